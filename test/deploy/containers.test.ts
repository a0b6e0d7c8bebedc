/**
 * Container files, checked without a Docker engine: the compose file through
 * `docker-compose config` (skipped with a message when the tool is missing,
 * required in CI), `.env.example` against the configuration code, and the
 * Dockerfile's promises read from it.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ConfigProvider, Effect } from "effect"
import { describe, expect, it } from "vitest"
import { AppConfig } from "../../src/adapters/config/AppConfig.js"
import { LogFormatConfig, LogLevelConfig } from "../../src/adapters/config/LogConfig.js"

const root = path.resolve(import.meta.dirname, "../..")
const hasCompose = spawnSync("docker-compose", ["version"], { stdio: "ignore" }).status === 0
const inCI = process.env["CI"] === "true"
if (!hasCompose && !inCI) console.warn("[file-receiver tests] docker-compose not installed: skipping the compose validation")

/** One service's lines in `docker-compose config` output. */
const serviceSection = (resolved: string, name: string): string => {
  const start = resolved.indexOf(`\n  ${name}:\n`)
  if (start < 0) return ""
  const next = resolved.slice(start + 1).search(/\n  [\w-]+:\n/)
  return next < 0 ? resolved.slice(start) : resolved.slice(start, start + 1 + next)
}

/**
 * Every variable the service reads: the upper-case names the configuration
 * modules pass first to a call or put first in an error path, as every reader
 * there does (`Config.string("HOST")`, `integerBetween("PORT", ...)`,
 * `InvalidData(["TRUST_PROXY"], ...)`). A capitalised first argument that is
 * not a setting would show up too, and make the checks below fail loudly
 * rather than pass quietly.
 */
const settingNames = (): ReadonlyArray<string> => {
  const directory = path.join(root, "src/adapters/config")
  const names = new Set<string>()
  for (const file of fs.readdirSync(directory).filter((name) => name.endsWith(".ts"))) {
    for (const match of fs.readFileSync(path.join(directory, file), "utf8").matchAll(/[([]\s*"([A-Z][A-Z0-9_]*)"/g)) {
      names.add(match[1]!)
    }
  }
  return [...names].sort()
}

/** Values docker-compose.yml sets whatever the shell or `.env` says. */
const FIXED_BY_COMPOSE: Record<string, string> = {
  HOST: "0.0.0.0",
  PORT: "8000",
  TRUST_PROXY: "1",
  REDIS_URL: "redis://redis:6379",
  FILE_SAVE_DIRECTORY: "/data/uploads"
}

/** The app service's environment in `docker-compose config` output. */
const appEnvironment = (resolved: string): Record<string, string> => {
  const app = serviceSection(resolved, "app")
  const block = /\n    environment:\n((?: {6}.*\n)*)/.exec(app)?.[1] ?? ""
  return Object.fromEntries(
    [...block.matchAll(/^ {6}([A-Z0-9_]+): ?(.*)$/gm)].map(([, name, value]) => [name!, value!.replace(/^'(.*)'$/, "$1")])
  )
}

/** The test's environment without any setting, so that a developer's shell does not leak in. */
const withoutSettings = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([name]) => !settingNames().includes(name)))

/** A value no default or fixed value has (PORT also picks the proxy's host port, so it must be a number). */
const distinctive = (name: string): string => (name === "PORT" ? "18123" : `set-${name.toLowerCase().replace(/_/g, "-")}`)

describe("docker-compose.yml", () => {
  it("finds the settings in the configuration code", () => {
    const names = settingNames()
    expect(names).toEqual(expect.arrayContaining(["AUTH_TOKENS", "FILE_MAX_SIZE", "STORAGE", "WEBHOOK_URL", "LOG_FORMAT", "PORT", "HOST"]))
    expect(names.length).toBeGreaterThan(50)
  })

  /** Every setting has the value set (or the one compose fixes); lists each one that does not. */
  const expectEverySettingArrives = (environment: Record<string, string>) => {
    const wrong = settingNames()
      .map((name) => ({ name, expected: FIXED_BY_COMPOSE[name] ?? distinctive(name), got: environment[name] }))
      .filter(({ expected, got }) => got !== expected)
    expect(wrong).toEqual([])
  }

  it.skipIf(!hasCompose && !inCI)("passes every setting from the shell to the app, except the few it fixes", () => {
    const env = { ...withoutSettings(), ...Object.fromEntries(settingNames().map((name) => [name, distinctive(name)])) }
    expectEverySettingArrives(appEnvironment(execFileSync("docker-compose", ["config"], { cwd: root, env }).toString()))
  })

  it.skipIf(!hasCompose && !inCI)("passes every setting from an .env file next to it to the app, except the few it fixes", () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "fr-compose-"))
    try {
      fs.copyFileSync(path.join(root, "docker-compose.yml"), path.join(directory, "docker-compose.yml"))
      fs.writeFileSync(path.join(directory, ".env"), settingNames().map((name) => `${name}=${distinctive(name)}\n`).join(""))
      const resolved = execFileSync("docker-compose", ["config"], { cwd: directory, env: withoutSettings() }).toString()
      expectEverySettingArrives(appEnvironment(resolved))
    } finally {
      fs.rmSync(directory, { recursive: true, force: true })
    }
  })

  it.skipIf(!hasCompose && !inCI)("works on a fresh clone without an .env file, and leaves unset settings to the app's defaults", () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "fr-compose-"))
    try {
      fs.copyFileSync(path.join(root, "docker-compose.yml"), path.join(directory, "docker-compose.yml"))
      const environment = appEnvironment(execFileSync("docker-compose", ["config"], { cwd: directory, env: withoutSettings() }).toString())
      // Passed through but unset (compose shows null): the container does not get the variable.
      expect(environment["AUTH_TOKENS"]).toBe("null")
      expect(environment["FILE_MAX_SIZE"]).toBe("null")
      expect(environment["HOST"]).toBe("0.0.0.0")
    } finally {
      fs.rmSync(directory, { recursive: true, force: true })
    }
  })

  it.skipIf(!hasCompose && !inCI)("is valid for docker-compose and runs redis + the app on port 8000 with shared Redis", () => {
    execFileSync("docker-compose", ["config", "-q"], { cwd: root, stdio: "pipe" })
    const resolved = execFileSync("docker-compose", ["config"], { cwd: root, env: { ...process.env, PORT: "" } }).toString()
    expect(resolved).toContain("REDIS_URL: redis://redis:6379")
    expect(resolved).toMatch(/published: "?8000"?|8000:8000/)
    expect(resolved).toContain("HOST: 0.0.0.0")
    // Scaling needs the app without a fixed host port, behind the proxy.
    const app = serviceSection(resolved, "app")
    expect(app).not.toContain("published")
    expect(resolved).toContain("deploy/nginx.conf")
  })

  it.skipIf(!hasCompose && !inCI)("has an optional s3 profile: MinIO plus a one-shot bucket creation, and the app on the filesystem unless STORAGE=s3", () => {
    execFileSync("docker-compose", ["--profile", "s3", "config", "-q"], { cwd: root, stdio: "pipe" })
    const resolved = execFileSync("docker-compose", ["--profile", "s3", "config"], { cwd: root, env: withoutSettings() }).toString()
    expect(serviceSection(resolved, "minio")).toMatch(/profiles:\s*\n\s*- s3/)
    const setup = serviceSection(resolved, "minio-setup")
    expect(setup).toMatch(/profiles:\s*\n\s*- s3/)
    expect(setup).toContain("local/file-receiver")
    const app = serviceSection(resolved, "app")
    // STORAGE unset: the app's default, the filesystem.
    expect(appEnvironment(resolved)).toMatchObject({ STORAGE: "null", S3_ENDPOINT: "http://minio:9000", S3_BUCKET: "file-receiver" })
    // The app never depends on an optional service.
    expect(app).not.toContain("minio:\n")
  })

  it("has an nginx config that passes WebSocket upgrades to the app service", () => {
    const nginx = fs.readFileSync(path.join(root, "deploy/nginx.conf"), "utf8")
    expect(nginx).toContain("server app:8000")
    expect(nginx).toContain("proxy_set_header Upgrade $http_upgrade")
    expect(nginx).toMatch(/proxy_read_timeout\s+\d+h/)
  })
})

describe(".env.example", () => {
  const example = fs.readFileSync(path.join(root, ".env.example"), "utf8")
  /** Its settings, as `# NAME=default` lines. */
  const entries = [...example.matchAll(/^# ([A-Z][A-Z0-9_]*)=(.*)$/gm)].map(([, name, value]) => [name!, value!] as const)

  it("lists every setting once, and nothing else", () => {
    expect(entries.map(([name]) => name).sort()).toEqual(settingNames())
  })

  it("shows the app's defaults: uncommented, it configures the app as an empty environment does", () => {
    const load = (values: ReadonlyArray<readonly [string, string]>) =>
      Effect.runSync(
        Effect.all([AppConfig, LogFormatConfig, LogLevelConfig]).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(values))))
      )
    expect(load(entries)).toEqual(load([]))
  })

  it("is what the README's Configuration table lists", () => {
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
    const table = readme.slice(readme.indexOf("## Configuration"), readme.indexOf("\n## ", readme.indexOf("## Configuration") + 1))
    const documented = [...table.matchAll(/^\| (`[A-Z0-9_]+`(?:, `[A-Z0-9_]+`)*) \|/gm)].flatMap(([, names]) =>
      names!.split(", ").map((name) => name.replace(/`/g, "")))
    expect(documented.sort()).toEqual(settingNames())
  })
})

describe("Dockerfile", () => {
  const dockerfile = fs.readFileSync(path.join(root, "Dockerfile"), "utf8")

  it("is multi-stage, installs production dependencies only for the runtime, and runs as a non-root user", () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(3)
    expect(dockerfile).toContain("npm ci --omit=dev")
    const runtime = dockerfile.slice(dockerfile.indexOf("AS runtime"))
    expect(runtime).toMatch(/^USER node$/m)
    expect(runtime).toContain("HEALTHCHECK")
    expect(runtime).toContain("/healthz")
    // The bundle is self-contained: no full node_modules in the runtime image.
    expect(runtime).not.toMatch(/COPY --from=deps \/app\/node_modules \.\/node_modules/)
  })

  it("builds the bundle with npm run build and starts node on it directly (signals reach it)", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }
    expect(dockerfile).toContain("RUN npm run build")
    expect(dockerfile).toContain(`CMD ["node", "--initial-old-space-size=96", "--max-semi-space-size=1", "--heap-growing-percent=50", "--enable-source-maps", "dist/start.cjs"]`)
    expect(pkg.scripts["build"]).toBe("node scripts/build.mjs")
    // npm start runs the production artifact too (rebuilt when the sources changed); npm run dev runs the sources.
    expect(pkg.scripts["start"]).toBe(
      "node scripts/build.mjs --if-stale && node --initial-old-space-size=96 --max-semi-space-size=1 --heap-growing-percent=50 dist/start.cjs"
    )
    expect(pkg.scripts["dev"]).toBe("node --initial-old-space-size=96 --max-semi-space-size=1 --heap-growing-percent=50 --import tsx src/main.ts")
  })

  it("starts the server with the same V8 heap flags everywhere it runs: npm start, start:prod, file-receiver serve, the image and the benchmark", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }
    const bench = fs.readFileSync(path.join(root, "bench/servers.ts"), "utf8")
    const bin = fs.readFileSync(path.join(root, "bin/file-receiver.mjs"), "utf8")
    const flags = ["--initial-old-space-size=96", "--max-semi-space-size=1", "--heap-growing-percent=50"]
    const quoted = flags.map((flag) => `"${flag}"`).join(", ")
    expect(bin).toContain(`const HEAP_FLAGS = [${quoted}]`)
    expect(pkg.scripts["start"]).toContain(flags.join(" "))
    expect(pkg.scripts["start:prod"]).toContain(`node ${flags.join(" ")} --enable-source-maps dist/start.cjs`)
    expect(dockerfile).toContain(quoted)
    expect(bench).toContain(`project: [${quoted}]`)
  })
})
