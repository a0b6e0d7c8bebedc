/**
 * Container files, checked without a Docker engine: the compose file through
 * `docker-compose config -q` (skipped with a message when the tool is
 * missing, required in CI), and the Dockerfile's promises read from it.
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"

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

describe("docker-compose.yml", () => {
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
    const resolved = execFileSync("docker-compose", ["--profile", "s3", "config"], { cwd: root, env: { ...process.env, STORAGE: "", S3_BUCKET: "" } }).toString()
    expect(serviceSection(resolved, "minio")).toMatch(/profiles:\s*\n\s*- s3/)
    const setup = serviceSection(resolved, "minio-setup")
    expect(setup).toMatch(/profiles:\s*\n\s*- s3/)
    expect(setup).toContain("local/file-receiver")
    const app = serviceSection(resolved, "app")
    expect(app).toContain("STORAGE: filesystem")
    expect(app).toContain("S3_ENDPOINT: http://minio:9000")
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
    expect(dockerfile).toContain(`CMD ["node", "--initial-old-space-size=96", "--max-semi-space-size=1", "--heap-growing-percent=50", "--enable-source-maps", "dist/main.mjs"]`)
    expect(pkg.scripts["build"]).toBe("node scripts/build.mjs")
    expect(pkg.scripts["start"]).toBe("node --initial-old-space-size=96 --max-semi-space-size=1 --heap-growing-percent=50 --import tsx src/main.ts")
  })

  it("starts the server with the same V8 heap flags everywhere it runs: npm start, start:prod, file-receiver serve, the image and the benchmark", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }
    const bench = fs.readFileSync(path.join(root, "bench/servers.ts"), "utf8")
    const bin = fs.readFileSync(path.join(root, "bin/file-receiver.mjs"), "utf8")
    const flags = ["--initial-old-space-size=96", "--max-semi-space-size=1", "--heap-growing-percent=50"]
    const quoted = flags.map((flag) => `"${flag}"`).join(", ")
    expect(bin).toContain(`const HEAP_FLAGS = [${quoted}]`)
    expect(pkg.scripts["start"]).toContain(flags.join(" "))
    expect(pkg.scripts["start:prod"]).toContain(`node ${flags.join(" ")} --enable-source-maps dist/main.mjs`)
    expect(dockerfile).toContain(quoted)
    expect(bench).toContain(`project: [${quoted}]`)
  })
})
