/**
 * The client library against stand-in servers that answer as the fixed
 * server does: a resume offset below what was confirmed (bytes lost in a
 * crash), a completed upload answered with `file_received` again, a storage
 * outage that suspends the upload (`storage_unavailable`), and decisions on
 * the error reply's `code` rather than its text.
 */
import { createHash, randomBytes } from "node:crypto"
import { Readable } from "node:stream"
import { afterEach, describe, expect, it } from "vitest"
import type { WebSocket } from "ws"
import {
  ConfirmedBytesLostError,
  fromBlob,
  fromStream,
  NodeWebSocket,
  type ReconnectInfo,
  ServerRefusedError,
  upload,
  UploadCancelledError,
  UploadError,
  type UploadProgress
} from "../../src/client/node.js"
import { eventually, fileReceived, type Frame, reply, type StandIn, startStandIn } from "./StandIn.js"

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")
const BUSY_TEXT = "This upload is open on another connection; close that one first or wait for it to time out"
const STORAGE_TEXT = "Storage is unavailable: the upload was kept; retry later"

let server: StandIn | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

/**
 * A resumable receiver: `meta_received` with upload_id "u1" and the offset it holds, binary
 * chunks appended and acknowledged with `received`, `file_received` once complete. `hold` is its
 * durable store; a script handles what it does differently before falling back to this.
 */
const receiver = (name: string, size: number) => {
  const state = { held: Buffer.alloc(0) }
  const meta = (ws: WebSocket) =>
    reply(ws, { type: "meta_received", message: "Ready to receive file", binary_chunks: true, upload_id: "u1", offset: state.held.length })
  const handle = (frame: Frame, ws: WebSocket) => {
    if (frame.kind === "json") {
      if (frame.message["type"] === "file_meta") meta(ws)
      if (frame.message["type"] === "cancel") reply(ws, { type: "upload_cancelled", message: "Upload cancelled" })
      return
    }
    state.held = Buffer.concat([state.held, frame.bytes])
    reply(ws, state.held.length < size ? { type: "chunk_received", message: "Ready for next chunk", received: state.held.length } : fileReceived(name))
  }
  return { state, handle }
}

/** Connection 1 acknowledges 3000 bytes, then the server crashes and keeps only the first 1000. */
const crashingAfter3000 = (name: string, size: number) => {
  const target = receiver(name, size)
  let crashed = false
  const script = (frame: Frame, ws: WebSocket, connection: number) => {
    if (connection === 1 && frame.kind === "binary") {
      if (crashed) return
      target.handle(frame, ws)
      if (target.state.held.length >= 3000) {
        crashed = true
        target.state.held = target.state.held.subarray(0, 1000)
        setTimeout(() => ws.terminate(), 20)
      }
      return
    }
    target.handle(frame, ws)
  }
  return { target, script }
}

const chunked = (bytes: Buffer, size: number) => Readable.from(Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)))

describe("a resume offset below what the server had confirmed", () => {
  it("a Blob is read again from that offset, the server gets the whole file, and progress goes back to the offset", async () => {
    const bytes = randomBytes(5000)
    const { target, script } = crashingAfter3000("lost.txt", bytes.length)
    server = await startStandIn(script)
    const progress: Array<UploadProgress> = []
    const result = await upload(fromBlob(new Blob([bytes]), "lost.txt"), {
      url: server.url,
      WebSocket: NodeWebSocket,
      chunkBytes: 1000,
      window: 2,
      minDelay: 5,
      onProgress: (p) => progress.push(p)
    })
    expect(result).toMatchObject({ storedName: "lost.txt", reconnects: 1 })
    expect(target.state.held.equals(bytes)).toBe(true)
    const firstResent = server.frames[1]!.find((f) => f.kind === "binary")
    expect(firstResent?.kind === "binary" && firstResent.bytes.equals(bytes.subarray(1000, 2000))).toBe(true)
    const uploading = progress.filter((p) => p.phase === "uploading")
    const at3000 = uploading.findIndex((p) => p.bytes === 3000)
    expect(at3000).toBeGreaterThanOrEqual(0)
    expect(uploading.slice(at3000).some((p) => p.bytes === 1000)).toBe(true)
    expect(uploading.at(-1)).toMatchObject({ bytes: 5000, eta: 0 })
    expect(progress.every((p) => p.rate >= 0)).toBe(true)
  })

  it("a stream that let those bytes go fails with ConfirmedBytesLostError, and only a cancel follows the resume", async () => {
    const bytes = randomBytes(5000)
    const { script } = crashingAfter3000("lost.txt", bytes.length)
    server = await startStandIn(script)
    const error = await upload(fromStream(chunked(bytes, 1000), "lost.txt", bytes.length), {
      url: server.url,
      WebSocket: NodeWebSocket,
      chunkBytes: 1000,
      window: 2,
      minDelay: 5
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConfirmedBytesLostError)
    expect(error).toBeInstanceOf(UploadError)
    expect(error).toMatchObject({ _tag: "ConfirmedBytesLost", confirmed: 3000, held: 1000 })
    expect((error as Error).message).toBe(
      "The server lost 2000 bytes it had confirmed (it now holds 1000 of the 3000 it acknowledged) and a stream cannot be read again: " +
        "upload the file again (the server was asked to discard its partial copy)"
    )
    const current = server
    await eventually(() => expect(current.kinds(2)).toEqual(["file_meta", "cancel"]))
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(current.kinds(2)).toEqual(["file_meta", "cancel"])
    expect(current.frames).toHaveLength(2)
  })
})

describe("a resume of an upload the server already completed", () => {
  /** Connection 1 receives every byte but is cut before its file_received; later ones answer file_received again. */
  const cutBeforeTheLastReply = (name: string, bytes: Buffer) => {
    const target = receiver(name, bytes.length)
    return (frame: Frame, ws: WebSocket, connection: number) => {
      if (connection === 1 && frame.kind === "binary" && target.state.held.length + frame.bytes.length === bytes.length) {
        target.state.held = Buffer.concat([target.state.held, frame.bytes])
        return ws.terminate()
      }
      if (connection > 1 && frame.kind === "json" && frame.message["type"] === "file_meta") {
        return reply(ws, fileReceived(name, { sha256: sha256(bytes) }))
      }
      target.handle(frame, ws)
    }
  }

  it("resolves with the stored name, extension and sha256 of that file_received, at 100%", async () => {
    const bytes = randomBytes(3000)
    server = await startStandIn(cutBeforeTheLastReply("done.txt", bytes))
    const progress: Array<UploadProgress> = []
    const result = await upload(fromBlob(new Blob([bytes]), "done.txt"), {
      url: server.url,
      WebSocket: NodeWebSocket,
      chunkBytes: 1000,
      sha256: true,
      minDelay: 5,
      onProgress: (p) => progress.push(p)
    })
    expect(result).toMatchObject({ storedName: "done.txt", extension: "txt", sha256: sha256(bytes), size: 3000, reconnects: 1 })
    expect(server.kinds(2)).toEqual(["file_meta"])
    expect(server.frames[1]![0]).toMatchObject({ message: { upload_id: "u1", file_name: "done.txt", file_size: 3000 } })
    expect(progress.at(-1)).toMatchObject({ phase: "uploading", bytes: 3000, total: 3000, eta: 0 })
  })

  it("a stream hashed while sent is checked against it too", async () => {
    const bytes = randomBytes(3000)
    server = await startStandIn(cutBeforeTheLastReply("done.txt", bytes))
    const result = await upload(fromStream(chunked(bytes, 700), "done.txt", bytes.length), {
      url: server.url,
      WebSocket: NodeWebSocket,
      chunkBytes: 1000,
      sha256: true,
      minDelay: 5
    })
    expect(result).toMatchObject({ storedName: "done.txt", sha256: sha256(bytes), reconnects: 1 })
  })

  it("cancelled in the backoff: a file_received answer means there is nothing to discard, so no cancel is sent", async () => {
    const bytes = randomBytes(3000)
    server = await startStandIn(cutBeforeTheLastReply("done.txt", bytes))
    const controller = new AbortController()
    const error = await upload(fromBlob(new Blob([bytes]), "done.txt"), {
      url: server.url,
      WebSocket: NodeWebSocket,
      chunkBytes: 1000,
      minDelay: 20_000,
      maxDelay: 20_000,
      signal: controller.signal,
      onReconnect: () => void setTimeout(() => controller.abort(), 20)
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UploadCancelledError)
    const current = server
    await eventually(() => expect(current.kinds(2)).toEqual(["file_meta"]))
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(current.frames.flat().some((f) => f.kind === "json" && f.message["type"] === "cancel")).toBe(false)
  })
})

describe("a storage outage (storage_unavailable) suspends the upload", () => {
  it("waits (retry_after when given, the backoff otherwise), reconnects and resumes with the same upload_id", async () => {
    const bytes = randomBytes(5000)
    const target = receiver("kept.txt", bytes.length)
    const storageDown = { type: "error", message: STORAGE_TEXT, code: "storage_unavailable" }
    let failedWrite = false
    server = await startStandIn((frame, ws, connection) => {
      // 1: stores 2000 bytes, then its store fails a write (the connection stays open); 2: refuses the resume; 3: accepts.
      if (connection === 1 && frame.kind === "binary" && (failedWrite || target.state.held.length >= 2000)) {
        if (!failedWrite) reply(ws, storageDown)
        failedWrite = true
        return
      }
      if (connection === 2 && frame.kind === "json") return reply(ws, { ...storageDown, retry_after: 0.05 })
      target.handle(frame, ws)
    })
    const reconnects: Array<ReconnectInfo> = []
    const result = await upload(fromBlob(new Blob([bytes]), "kept.txt"), {
      url: server.url,
      WebSocket: NodeWebSocket,
      chunkBytes: 1000,
      window: 2,
      retries: 0, // storage waits are bounded by time, not by this count
      minDelay: 5,
      maxDelay: 20,
      onReconnect: (info) => reconnects.push(info)
    })
    expect(result).toMatchObject({ storedName: "kept.txt", reconnects: 2 })
    expect(target.state.held.equals(bytes)).toBe(true)
    expect(reconnects.map((r) => r.cause)).toEqual(["storage_unavailable", "storage_unavailable"])
    expect(reconnects.every((r) => r.reason === `storage unavailable: ${STORAGE_TEXT}`)).toBe(true)
    expect(reconnects[1]!.delayMs).toBe(50)
    expect(server.closeCodes[0]).toBe(1000) // the client closed the suspended connection itself
    expect(server.frames.slice(1).map((frames) => frames[0])).toEqual([
      { kind: "json", message: { type: "file_meta", file_name: "kept.txt", file_size: 5000, upload_id: "u1" } },
      { kind: "json", message: { type: "file_meta", file_name: "kept.txt", file_size: 5000, upload_id: "u1" } }
    ])
    expect(server.frames.flat().some((f) => f.kind === "json" && f.message["type"] === "cancel")).toBe(false)
  })

  it("gives up after storagePatience with ServerRefusedError carrying the server's message and code", async () => {
    server = await startStandIn((frame, ws) => {
      if (frame.kind === "json" && frame.message["type"] === "file_meta") reply(ws, { type: "error", message: STORAGE_TEXT, code: "storage_unavailable" })
    })
    const reconnects: Array<ReconnectInfo> = []
    const started = Date.now()
    const error = await upload(fromBlob(new Blob([randomBytes(100)]), "kept.txt"), {
      url: server.url,
      WebSocket: NodeWebSocket,
      retries: 0,
      minDelay: 20,
      maxDelay: 40,
      storagePatience: 300,
      onReconnect: (info) => reconnects.push(info)
    }).catch((e: unknown) => e)
    const elapsed = Date.now() - started
    expect(error).toBeInstanceOf(ServerRefusedError)
    expect(error).toMatchObject({ message: STORAGE_TEXT, code: "storage_unavailable" })
    expect(reconnects.length).toBeGreaterThanOrEqual(3)
    expect(elapsed).toBeGreaterThanOrEqual(250)
    expect(elapsed).toBeLessThan(3000)
  })
})

describe("decisions on the error reply's code, not its text", () => {
  it("a refusal with code busy and another text is waited out as busy", async () => {
    const bytes = randomBytes(2000)
    const target = receiver("b.txt", bytes.length)
    server = await startStandIn((frame, ws, connection) => {
      if (connection === 1 && frame.kind === "binary") return ws.terminate()
      if (connection >= 2 && connection <= 4 && frame.kind === "json") {
        return reply(ws, { type: "error", message: "Held by another link for now", code: "busy" })
      }
      target.handle(frame, ws)
    })
    const causes: Array<string> = []
    const result = await upload(fromBlob(new Blob([bytes]), "b.txt"), {
      url: server.url,
      WebSocket: NodeWebSocket,
      chunkBytes: 1000,
      retries: 1,
      minDelay: 5,
      maxDelay: 10,
      onReconnect: (info) => causes.push(info.cause)
    })
    expect(result.storedName).toBe("b.txt")
    expect(causes).toEqual(["connection", "busy", "busy", "busy"])
    expect(target.state.held.equals(bytes)).toBe(true)
  })

  it("a refusal with the busy text but code file_too_large is final, with that code on the error", async () => {
    server = await startStandIn((frame, ws) => {
      if (frame.kind === "json") reply(ws, { type: "error", message: BUSY_TEXT, code: "file_too_large" })
    })
    const error = await upload(fromBlob(new Blob([randomBytes(100)]), "r.txt"), {
      url: server.url,
      WebSocket: NodeWebSocket,
      minDelay: 5,
      signal: AbortSignal.timeout(3000) // an older client would wait 60 s for a busy upload
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ServerRefusedError)
    expect(error).toMatchObject({ message: BUSY_TEXT, code: "file_too_large" })
    expect(server.frames).toHaveLength(1)
  })
})
