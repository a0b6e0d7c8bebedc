/**
 * The real entry point as a child process, started the way the README says:
 * signals, exit codes and start-up failures.
 */
import { existsSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { createHash } from "node:crypto"
import { run, start } from "../support/process.js"
import { connect, samplePdf, sha256 } from "../support/server.js"

const tempDir = () => fs.mkdtemp(path.join(os.tmpdir(), "fr-proc-"))

/** How the process exited, or "still running" (and then killed) after `millis`. */
const exitWithin = async (child: ReturnType<typeof run>, millis: number) => {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<"still running">((resolve) => (timer = setTimeout(() => resolve("still running"), millis)))
  const outcome = await Promise.race([child.exited, late])
  clearTimeout(timer)
  if (outcome === "still running") child.kill("SIGKILL")
  return outcome
}

/** A TCP server that accepts connections and never answers (an S3 endpoint that hangs). */
const silentServer = () =>
  new Promise<net.Server>((resolve) => {
    const server = net.createServer((socket) => socket.resume()).listen(0, "127.0.0.1", () => resolve(server))
  })

describe("the server process", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`on ${signal} closes open sockets with 1001, keeps unfinished uploads resumable and exits 0`, async () => {
      const dir = await tempDir()
      const server = await start({ FILE_SAVE_DIRECTORY: dir })
      const client = await connect(`ws://127.0.0.1:${server.port}/ws/file-transfer/`)
      client.send({ type: "file_meta", file_name: "unfinished.txt", file_size: 100 })
      const { upload_id } = await client.next()
      server.kill(signal)
      expect(await client.closed).toBe(1001)
      const { code } = await server.exited
      expect(code).toBe(0)
      expect((await fs.readdir(dir)).sort()).toEqual([`.${String(upload_id)}.part`, `.${String(upload_id)}.upload.json`])
    })
  }

  it("an upload resumes after the server process was restarted, and the stored file is intact", async () => {
    const dir = await tempDir()
    const content = samplePdf(300_000)
    const before = await start({ FILE_SAVE_DIRECTORY: dir })
    const first = await connect(`ws://127.0.0.1:${before.port}/ws/file-transfer/`)
    first.send({ type: "file_meta", file_name: "restart.pdf", file_size: content.length, sha256: sha256(content) })
    const { upload_id } = await first.next()
    first.sendRaw(content.subarray(0, 100_000), true)
    expect((await first.next()).received).toBe(100_000)
    before.kill("SIGTERM")
    await before.exited

    const after = await start({ FILE_SAVE_DIRECTORY: dir })
    const second = await connect(`ws://127.0.0.1:${after.port}/ws/file-transfer/`)
    second.send({ type: "file_meta", file_name: "restart.pdf", file_size: content.length, upload_id })
    expect(await second.next()).toMatchObject({ type: "meta_received", offset: 100_000 })
    second.sendRaw(content.subarray(100_000), true)
    expect(await second.next()).toMatchObject({ type: "file_received", sha256: sha256(content) })
    expect(sha256(await fs.readFile(path.join(dir, "restart.pdf")))).toBe(sha256(content))
    // The completed upload's record stays, for a resume that lost its file_received.
    expect((await fs.readdir(dir)).sort()).toEqual([`.${String(upload_id)}.upload.json`, "restart.pdf"])
    after.kill("SIGTERM")
    expect((await after.exited).code).toBe(0)
  })

  it("shutdown waits SHUTDOWN_GRACE, not longer, for clients that never acknowledge the close, and keeps their uploads resumable", async () => {
    const dir = await tempDir()
    const server = await start({ FILE_SAVE_DIRECTORY: dir, SHUTDOWN_GRACE: "2" })
    const clients = await Promise.all(Array.from({ length: 5 }, () => connect(`ws://127.0.0.1:${server.port}/ws/file-transfer/`)))
    for (const [i, client] of clients.entries()) {
      client.send({ type: "file_meta", file_name: `stalled-${i}.txt`, file_size: 1_000_000 })
      await client.next()
      client.send({ type: "file_chunk", chunk: Buffer.alloc(30_000, 97).toString("base64") })
      await client.next()
      client.socket.pause() // never reads the server's close frame
    }
    const partials = async () => (await fs.readdir(dir)).filter((n) => n.endsWith(".part"))
    expect((await partials()).length).toBe(5)
    const started = Date.now()
    server.kill("SIGTERM")
    const { code } = await server.exited
    expect(code).toBe(0)
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900)
    expect(Date.now() - started).toBeLessThan(5_000)
    expect((await partials()).length).toBe(5)
    expect((await fs.readdir(dir)).filter((n) => !n.startsWith("."))).toEqual([])
  })

  it("LOG_FORMAT=json writes one JSON object per line, each upload traceable by its reference and client", async () => {
    const dir = await tempDir()
    const child = run({ FILE_SAVE_DIRECTORY: dir, LOG_FORMAT: "json" })
    const port = await child.listening
    const client = await connect(`ws://127.0.0.1:${port}/ws/file-transfer/`)
    client.send({ type: "file_meta", file_name: "traced.txt", file_size: 3 })
    const { upload_id } = await client.next()
    client.send({ type: "file_chunk", chunk: Buffer.from("abc").toString("base64") })
    await client.next()
    child.kill("SIGTERM")
    const { output } = await child.exited
    const lines = output.trim().split("\n").map((line) => JSON.parse(line) as { message: string; annotations: Record<string, unknown> })
    const completed = lines.find((line) => line.message === "upload completed")
    const reference = createHash("sha256").update(String(upload_id)).digest("hex").slice(0, 16)
    expect(completed?.annotations).toMatchObject({ upload: reference, client: "127.0.0.1", storedName: "traced.txt" })
    const started = lines.find((line) => line.message === "upload started")
    expect(started?.annotations).toMatchObject({ upload: reference, client: "127.0.0.1" })
    // The id is a capability (it can resume or cancel the upload): it never appears in logs.
    expect(output).not.toContain(String(upload_id))
    expect(output).not.toContain(Buffer.from("abc").toString("base64"))
  })

  it("refuses to start on a bad setting, naming the variable and the value", async () => {
    const { code, output } = await run({ FILE_MAX_SIZE: "lots" }).exited
    expect(code).toBe(1)
    expect(output).toContain("FILE_MAX_SIZE")
    expect(output).toContain("lots")
  })

  it("refuses to start when AUTH_TOKENS_FILE cannot be read, in one line naming the variable and the file", async () => {
    const file = path.join(await tempDir(), "missing-tokens")
    const { code, output } = await run({ FILE_SAVE_DIRECTORY: await tempDir(), AUTH_TOKENS_FILE: file }).exited
    expect(code).toBe(1)
    expect(output.trim().split("\n")).toEqual([expect.stringContaining(`start-up failed: AUTH_TOKENS_FILE: cannot read ${file}: ENOENT`)])
  })

  it("refuses to start when FILE_SAVE_DIRECTORY is a file, in one line naming the directory", async () => {
    const file = path.join(await tempDir(), "not-a-directory")
    await fs.writeFile(file, "")
    const { code, output } = await run({ FILE_SAVE_DIRECTORY: file }).exited
    expect(code).toBe(1)
    expect(output.trim().split("\n")).toEqual([expect.stringContaining(`start-up failed: FILE_SAVE_DIRECTORY ${file} is not a directory`)])
  })

  it.skipIf(!existsSync("/proc/self"))("refuses to start at once when FILE_SAVE_DIRECTORY cannot be created (under /proc, where Node's recursive mkdir never returns)", async () => {
    const outcome = await exitWithin(run({ FILE_SAVE_DIRECTORY: "/proc/nope", STARTUP_TIMEOUT: "60" }), 15_000)
    expect(outcome).not.toBe("still running")
    if (outcome === "still running") return
    expect(outcome.code).toBe(1)
    expect(outcome.output.trim().split("\n")).toEqual([expect.stringContaining("start-up failed: cannot create FILE_SAVE_DIRECTORY /proc/nope: ENOENT")])
  })

  it("gives up start-up after STARTUP_TIMEOUT seconds when storage never answers, with exit code 1 and one line", async () => {
    const s3 = await silentServer()
    try {
      const { port } = s3.address() as net.AddressInfo
      const started = Date.now()
      const outcome = await exitWithin(
        run({
          STORAGE: "s3",
          S3_BUCKET: "uploads",
          S3_ENDPOINT: `http://127.0.0.1:${port}`,
          S3_FORCE_PATH_STYLE: "true",
          AWS_ACCESS_KEY_ID: "key",
          AWS_SECRET_ACCESS_KEY: "secret",
          UPLOAD_REGISTRY: "memory",
          STARTUP_TIMEOUT: "2"
        }),
        15_000
      )
      expect(outcome).not.toBe("still running")
      if (outcome === "still running") return
      expect(outcome.code).toBe(1)
      expect(Date.now() - started).toBeGreaterThanOrEqual(2_000)
      const fatal = outcome.output.trim().split("\n").filter((line) => line.includes("level=FATAL"))
      expect(fatal).toEqual([expect.stringContaining("start-up failed: not ready within 2 s (STARTUP_TIMEOUT)")])
    } finally {
      s3.close()
    }
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
