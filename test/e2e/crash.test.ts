/**
 * What a reply promises when the server process dies: the real entry point
 * as a child process, killed with SIGKILL in the middle of uploads, then
 * started again on the same directory. Every byte a `chunk_received` counted
 * must still be there: in the partial file, and in the offset a resume gets.
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import { start, type Started } from "../support/process.js"
import { connect } from "../support/server.js"

const CHUNK = 256 * 1024
const FILE_SIZE = 64 * 1024 * 1024
/** Confirmed bytes each upload must have before the kill. */
const CONFIRMED_BEFORE_KILL = 1.5 * 1024 * 1024

interface Tracked {
  readonly name: string
  uploadId: string
  /** The highest `received` the server confirmed. */
  confirmed: number
}

/**
 * Starts an upload and sends 256 KiB binary chunks, `window` unanswered at a
 * time, until the socket dies; `tracked.confirmed` follows the replies.
 */
const uploadUntilKilled = (port: number, name: string, window: number, tracked: Array<Tracked>) =>
  new Promise<void>((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws/file-transfer/`, { perMessageDeflate: false })
    const entry: Tracked = { name, uploadId: "", confirmed: 0 }
    let sent = 0
    let unanswered = 0
    const chunk = Buffer.alloc(CHUNK, name.charCodeAt(name.length - 5))
    const fill = () => {
      while (unanswered < window && sent < FILE_SIZE && socket.readyState === WebSocket.OPEN) {
        socket.send(chunk, { binary: true })
        sent += CHUNK
        unanswered++
      }
    }
    socket.on("open", () => socket.send(JSON.stringify({ type: "file_meta", file_name: name, file_size: FILE_SIZE })))
    socket.on("message", (data) => {
      const reply = JSON.parse(data.toString()) as { type: string; upload_id?: string; received?: number; message?: string }
      if (reply.type === "meta_received") {
        entry.uploadId = reply.upload_id ?? ""
        tracked.push(entry)
      } else if (reply.type === "chunk_received") {
        entry.confirmed = Math.max(entry.confirmed, reply.received ?? 0)
        unanswered--
      } else {
        return reject(new Error(`unexpected reply: ${data.toString()}`))
      }
      fill()
    })
    socket.on("error", () => undefined)
    socket.on("close", () => resolve())
  })

const waitUntil = async (condition: () => boolean, timeoutMillis: number) => {
  const deadline = Date.now() + timeoutMillis
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time")
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** Runs `uploads` uploads with `window` chunks in flight, SIGKILLs the server, and checks what survived. */
const killAndResume = async (uploads: number, window: number) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "fr-crash-"))
  const env = { FILE_SAVE_DIRECTORY: dir, FILE_MAX_SIZE: "100", FILE_ALLOWED_EXTENSIONS: "bin", CONTENT_CHECK: "off", MAX_CHUNK_BYTES: String(CHUNK) }
  let server: Started | undefined = await start(env)
  try {
    const tracked: Array<Tracked> = []
    const running = Array.from({ length: uploads }, (_, index) => uploadUntilKilled(server!.port, `crash-${index}.bin`, window, tracked))
    await waitUntil(() => tracked.length === uploads && tracked.every((entry) => entry.confirmed >= CONFIRMED_BEFORE_KILL), 30_000)
    server.kill("SIGKILL")
    await server.exited
    await Promise.all(running)

    // On disk: each partial file holds at least what was confirmed.
    for (const entry of tracked) {
      const held = (await fs.stat(path.join(dir, `.${entry.uploadId}.part`))).size
      expect(held, `partial file of an upload confirmed up to ${entry.confirmed}`).toBeGreaterThanOrEqual(entry.confirmed)
    }

    // After a restart: each resume continues at or after what was confirmed.
    server = await start(env)
    for (const entry of tracked) {
      const client = await connect(`ws://127.0.0.1:${server.port}/ws/file-transfer/`)
      client.send({ type: "file_meta", file_name: entry.name, file_size: FILE_SIZE, upload_id: entry.uploadId })
      const reply = await client.next()
      client.close()
      expect(reply).toMatchObject({ type: "meta_received" })
      expect(reply["offset"] as number).toBeGreaterThanOrEqual(entry.confirmed)
    }
  } finally {
    server?.kill("SIGKILL")
    await server?.exited
    await fs.rm(dir, { recursive: true, force: true })
  }
}

describe("after the server process is killed (SIGKILL)", () => {
  it("every byte confirmed to 8 pipelined uploads (8 chunks in flight each) is still there, and resumes continue from it", async () => {
    await killAndResume(8, 8)
  }, 60_000)

  it("every byte confirmed to stop-and-wait uploads is still there", async () => {
    await killAndResume(8, 1)
  }, 60_000)
})
