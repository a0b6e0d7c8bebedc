/**
 * The three servers under test, each run as its own child process on
 * 127.0.0.1 with port 0, so its peak memory (VmHWM) can be read from /proc:
 * the project (the real `src/main.ts`), the plain `ws` reference and
 * tus-node-server, each bundled by esbuild and run on plain node. Each prints
 * "listening on http://host:port" on stdout.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, openSync, unlinkSync } from "node:fs"
import { readFile } from "node:fs/promises"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"

/**
 * `project-inline`: the project with DIGEST_THREADS=0 (every digest on the event loop's thread); `project-unhashed`:
 * with INTEGRITY=requested (the bench's clients declare no digest, so nothing is hashed). For comparison.
 */
export type ServerKind = "project" | "project-inline" | "project-unhashed" | "reference" | "tus"

/** Whether `kind` is this project (with any of its settings). */
export const isProject = (kind: ServerKind): boolean => kind === "project" || kind === "project-inline" || kind === "project-unhashed"

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

/** The other two servers' sources (the project is built by scripts/build.mjs's bundleServer, as npm run build does). */
const SOURCES: Record<"reference" | "tus", string> = {
  reference: "bench/reference-ws.ts",
  tus: "bench/tus-server.ts"
}

/** What each server runs; the project's is the shipped `npm run build` artifact, started as npm start starts it. */
const BUNDLES: Record<ServerKind, string> = {
  project: "dist/start.cjs",
  "project-inline": "dist/start.cjs",
  "project-unhashed": "dist/start.cjs",
  reference: "bench/.build/reference-ws.mjs",
  tus: "bench/.build/tus-server.mjs"
}

/**
 * Bundles all three servers the same way (esbuild, as `npm run build` does for
 * the project), so each runs on plain node: no TypeScript loader in the
 * measured processes, and the same treatment for every contestant.
 */
export const buildServers = async (): Promise<void> => {
  const { bundle, bundleServer } = (await import(path.join(REPO_ROOT, "scripts/build.mjs"))) as {
    readonly bundle: (entryPoint: string, outfile: string) => Promise<unknown>
    readonly bundleServer: (directory: string) => Promise<unknown>
  }
  await bundleServer(path.join(REPO_ROOT, "dist"))
  for (const kind of ["reference", "tus"] as const) {
    await bundle(path.join(REPO_ROOT, SOURCES[kind]), path.join(REPO_ROOT, BUNDLES[kind]))
  }
}

/** Node flags each server runs with: the project's are those of its Dockerfile CMD and npm start. */
export const NODE_FLAGS: Record<ServerKind, ReadonlyArray<string>> = {
  project: ["--initial-old-space-size=96", "--max-semi-space-size=1", "--heap-growing-percent=50"],
  "project-inline": ["--initial-old-space-size=96", "--max-semi-space-size=1", "--heap-growing-percent=50"],
  "project-unhashed": ["--initial-old-space-size=96", "--max-semi-space-size=1", "--heap-growing-percent=50"],
  reference: [],
  tus: []
}

const LISTENING = /listening on http:\/\/[^:]+:(\d+)/
const START_TIMEOUT_MILLIS = 30_000

export interface RunningServer {
  readonly kind: ServerKind
  readonly pid: number
  readonly port: number
  /** Where this server stores uploads. */
  readonly directory: string
  /** The upload URL: the WebSocket endpoint, or tus's creation endpoint. */
  readonly url: string
  /** Whether the process is still running (it must be, after every run). */
  readonly alive: () => boolean
  /** The last lines the process wrote to stderr, for error reports. */
  readonly stderrTail: () => string
  /** Stops the process (SIGTERM, then SIGKILL after 5 s). */
  readonly stop: () => Promise<void>
}

/**
 * CPU seconds a live process has used so far, user and system (from /proc/<pid>/stat, in clock ticks of
 * 1/100 s, Linux's USER_HZ): the server's own cost, which does not drift with the machine's load the way
 * wall time does.
 */
export const cpuSecondsOf = async (pid: number): Promise<number> => cpuSecondsIn(await readFile(`/proc/${pid}/stat`, "utf8"))

/** The user and system CPU seconds in the text of a /proc `stat` file (a process's, or one thread's under task/). */
export const cpuSecondsIn = (stat: string): number => {
  // The fields after the command name (in parentheses, which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}

/**
 * CPU microseconds (user + system) this process spends per file creating, closing and unlinking an empty file in
 * `directory`: the least of three batches of 50, so that a collection or a first call does not count. On the VM of
 * docs/performance.md it differed thirtyfold between fresh directories, which a scenario that creates a file per
 * upload would report as one server being slower than another.
 */
export const creationCost = (directory: string): number => {
  const batch = (): number => {
    const before = process.cpuUsage()
    for (let index = 0; index < 50; index++) {
      const file = path.join(directory, `.probe-${index}`)
      closeSync(openSync(file, "wx"))
      unlinkSync(file)
    }
    const used = process.cpuUsage(before)
    return (used.user + used.system) / 50
  }
  return Math.min(batch(), batch(), batch())
}

/** Peak and current resident set size of a live process, in bytes (from /proc/<pid>/status). */
export const memoryOf = async (pid: number): Promise<{ readonly vmHWM: number; readonly vmRSS: number }> => {
  const status = await readFile(`/proc/${pid}/status`, "utf8")
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)
    if (match?.[1] === undefined) throw new Error(`no ${name} in /proc/${pid}/status`)
    return Number(match[1]) * 1024
  }
  return { vmHWM: field("VmHWM"), vmRSS: field("VmRSS") }
}

/** The environment `kind` runs with, storing into `directory`: the project with its limits raised for the bench. */
export const environment = (kind: ServerKind, directory: string): NodeJS.ProcessEnv => {
  const inherited: NodeJS.ProcessEnv = { ...process.env }
  // The project must use its in-memory limiter and its defaults, whatever the shell has set.
  for (const name of Object.keys(inherited)) {
    if (/^(REDIS_URL|RATE_LIMIT_|FILE_|MAX_|AUTH_|ALLOWED_ORIGINS|IDLE_TIMEOUT|UPLOAD_STALL_TIMEOUT|LOG_LEVEL|NODE_OPTIONS|DIGEST_THREADS|INTEGRITY)/.test(name)) delete inherited[name]
  }
  const common = { ...inherited, PORT: "0", HOST: "127.0.0.1", FILE_SAVE_DIRECTORY: directory }
  return !isProject(kind) ? common : {
    ...common,
    RATE_LIMIT_PER_PERIOD: "1000000000",
    // Scenario 5b opens 1,000 connections, each with an upload, from one address; 0 lifts a limit.
    RATE_LIMIT_BYTES_PER_PERIOD: "0",
    MAX_CONNECTIONS_PER_IP: "0",
    MAX_UPLOADS_PER_IP: "0",
    FILE_MAX_SIZE: "4096",
    MAX_CHUNK_BYTES: String(1024 * 1024),
    // The payloads are noise named .pdf: checking them would refuse them. The check reads only the first
    // 4100 bytes of a PDF, once per upload, so it costs no throughput (see test/application/ContentCheck).
    CONTENT_CHECK: "off",
    // Info, only so that the "listening on" line (and the port) is printed.
    LOG_LEVEL: "info",
    ...(kind === "project-inline" ? { DIGEST_THREADS: "0" } : {}),
    ...(kind === "project-unhashed" ? { INTEGRITY: "requested" } : {})
  }
}

const urlFor = (kind: ServerKind, port: number): string =>
  kind === "tus" ? `http://127.0.0.1:${port}/files` : `ws://127.0.0.1:${port}/ws/file-transfer/`

const waitForExit = (child: ChildProcess, millis: number): Promise<boolean> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve(true)
    const timer = setTimeout(() => resolve(false), millis)
    child.once("exit", () => {
      clearTimeout(timer)
      resolve(true)
    })
  })

/** For measurements that instrument a server (bench/alloc.ts): flags before its own, variables over its own, its stderr. */
export interface StartOptions {
  readonly nodeFlags?: ReadonlyArray<string>
  /** The script node runs instead of the bundle (say, a bundle built into another folder). */
  readonly script?: string
  readonly env?: NodeJS.ProcessEnv
  readonly onStderr?: (line: string) => void
}

/** Starts `kind` storing into `directory` (which must exist) and waits until it listens. */
export const startServer = (kind: ServerKind, directory: string, options: StartOptions = {}): Promise<RunningServer> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(options.nodeFlags ?? []), ...NODE_FLAGS[kind], options.script ?? BUNDLES[kind]], {
      cwd: REPO_ROOT,
      env: { ...environment(kind, directory), ...options.env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    const stderr: Array<string> = []
    let exited = false
    createInterface({ input: child.stderr! }).on("line", (line) => {
      options.onStderr?.(line)
      stderr.push(line)
      if (stderr.length > 20) stderr.shift()
    })
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${kind} server did not print its port within ${START_TIMEOUT_MILLIS} ms`))
    }, START_TIMEOUT_MILLIS)
    child.once("exit", (code, signal) => {
      exited = true
      clearTimeout(timer)
      reject(new Error(`${kind} server exited before listening (${signal ?? code}): ${stderr.join("\n")}`))
    })
    // Keep draining stdout (the project logs a line per upload at info).
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const port = LISTENING.exec(line)?.[1]
      if (port === undefined || child.pid === undefined) return
      clearTimeout(timer)
      resolve({
        kind,
        pid: child.pid,
        port: Number(port),
        directory,
        url: urlFor(kind, Number(port)),
        alive: () => !exited,
        stderrTail: () => stderr.join("\n"),
        stop: async () => {
          if (exited) return
          child.kill("SIGTERM")
          if (!(await waitForExit(child, 5_000))) {
            child.kill("SIGKILL")
            await waitForExit(child, 5_000)
          }
        }
      })
    })
  })
