/**
 * The real entry point as a child process, started the way the README says:
 * signals, exit codes and start-up failures.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { connect } from "../support/server.js"

interface Started {
  readonly port: number
  readonly exited: Promise<{ code: number | null; output: string }>
  readonly kill: (signal: NodeJS.Signals) => void
}

const root = path.resolve(import.meta.dirname, "../..")

const run = (env: Record<string, string>) => {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: root,
    env: { ...process.env, REDIS_URL: "", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout.on("data", (data: Buffer) => (output += data.toString()))
  child.stderr.on("data", (data: Buffer) => (output += data.toString()))
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
  return { exited, listening, kill: (signal: NodeJS.Signals) => child.kill(signal) }
}

const start = async (env: Record<string, string>): Promise<Started> => {
  const child = run(env)
  return { port: await child.listening, exited: child.exited, kill: child.kill }
}

const tempDir = () => fs.mkdtemp(path.join(os.tmpdir(), "fr-proc-"))

describe("the server process", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`on ${signal} closes open sockets with 1001, removes unfinished uploads and exits 0`, async () => {
      const dir = await tempDir()
      const server = await start({ FILE_SAVE_DIRECTORY: dir })
      const client = await connect(`ws://127.0.0.1:${server.port}/ws/file-transfer/`)
      client.send({ type: "file_meta", file_name: "unfinished.txt", file_size: 100 })
      await client.next()
      server.kill(signal)
      expect(await client.closed).toBe(1001)
      const { code } = await server.exited
      expect(code).toBe(0)
      expect(await fs.readdir(dir)).toEqual([])
    })
  }

  it("shutdown does not wait for clients that never acknowledge the close, and leaves no partial file", async () => {
    const dir = await tempDir()
    const server = await start({ FILE_SAVE_DIRECTORY: dir })
    const clients = await Promise.all(Array.from({ length: 5 }, () => connect(`ws://127.0.0.1:${server.port}/ws/file-transfer/`)))
    for (const [i, client] of clients.entries()) {
      client.send({ type: "file_meta", file_name: `stalled-${i}.txt`, file_size: 1_000_000 })
      await client.next()
      client.send({ type: "file_chunk", chunk: Buffer.alloc(30_000).toString("base64") })
      await client.next()
      client.socket.pause() // never reads the server's close frame
    }
    expect((await fs.readdir(dir)).length).toBe(5)
    const started = Date.now()
    server.kill("SIGTERM")
    const { code } = await server.exited
    expect(code).toBe(0)
    expect(Date.now() - started).toBeLessThan(8_000)
    expect(await fs.readdir(dir)).toEqual([])
  })

  it("refuses to start on a bad setting, naming the variable and the value", async () => {
    const { code, output } = await run({ FILE_MAX_SIZE: "lots" }).exited
    expect(code).toBe(1)
    expect(output).toContain("FILE_MAX_SIZE")
    expect(output).toContain("lots")
  })

  it("refuses to start when REDIS_URL is set but Redis cannot be reached", async () => {
    const { code, output } = await run({ REDIS_URL: "redis://127.0.0.1:1" }).exited
    expect(code).toBe(1)
    expect(output).toContain("Cannot reach Redis at redis://127.0.0.1:1")
  })

  it("creates a missing save directory", async () => {
    const dir = path.join(await tempDir(), "nested", "uploads")
    const server = await start({ FILE_SAVE_DIRECTORY: dir })
    expect((await fs.stat(dir)).isDirectory()).toBe(true)
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  })
})
