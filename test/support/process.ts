/**
 * The real entry point as a child process (`node --import tsx src/main.ts`,
 * as `npm run dev` runs it, or the built `dist/start.cjs`), for tests of
 * signals, exit codes and scale-out.
 * Its output is kept with the test's logs, printed if the test fails (see serverLogs.ts).
 */
import { spawn } from "node:child_process"
import * as path from "node:path"
import * as ServerLogs from "./serverLogs.js"

export interface Started {
  readonly pid: number
  readonly port: number
  readonly exited: Promise<{ code: number | null; output: string }>
  readonly kill: (signal: NodeJS.Signals) => void
}

const root = path.resolve(import.meta.dirname, "../..")

/** How the server is started by default: its sources through tsx, as `npm run dev` does. */
const FROM_SOURCES = ["--import", "tsx", "src/main.ts"]

/** How to start it, when not from the sources in the repository's root. */
export interface HowToStart {
  /** Node's arguments (default: the sources through tsx). */
  readonly args?: ReadonlyArray<string>
  /** The working directory (default: the repository's root). */
  readonly cwd?: string
  /** A command that runs node in its own process (`taskset -c 0`, which execs it). */
  readonly through?: ReadonlyArray<string>
}

/**
 * Starts the server with `env` on top of the test's environment (REDIS_URL cleared, PORT=0); a variable set to
 * undefined in `env` is removed.
 */
export const run = (env: Record<string, string | undefined>, how: HowToStart = {}) => {
  const [command = process.execPath, ...commandArgs] = [...(how.through ?? []), process.execPath, ...(how.args ?? FROM_SOURCES)]
  const child = spawn(command, commandArgs, {
    cwd: how.cwd ?? root,
    env: { ...process.env, REDIS_URL: "", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  const source = `process ${child.pid ?? "?"}`
  const collect = (data: Buffer) => {
    output += data.toString()
    ServerLogs.keep(source, data.toString())
  }
  child.stdout.on("data", collect)
  child.stderr.on("data", collect)
  const exited = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.on("exit", (code) => resolve({ code, output }))
  )
  const listening = new Promise<number>((resolve, reject) => {
    child.stdout.on("data", () => {
      const match = /listening on http:\/\/[^:]+:(\d+)/.exec(output)
      if (match) resolve(Number(match[1]))
    })
    void exited.then(({ output }) => reject(new Error(`exited before listening:\n${output}`)))
  })
  listening.catch(() => undefined) // awaited only by `start`; failures are asserted through `exited`
  return { pid: child.pid ?? 0, exited, listening, kill: (signal: NodeJS.Signals) => child.kill(signal) }
}

/** Starts the server and waits until it listens. */
export const start = async (env: Record<string, string | undefined>, how?: HowToStart): Promise<Started> => {
  const child = run(env, how)
  return { pid: child.pid, port: await child.listening, exited: child.exited, kill: child.kill }
}
