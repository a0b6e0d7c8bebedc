/**
 * The client library against the real server (port 0, fresh directory): what
 * it negotiates, that files arrive byte for byte, resume after a cut
 * connection, cancellation, sha256, typed errors; and against a stand-in for
 * the original server that offers none of the newer modes.
 */
import { sampleFor } from "../support/content.js"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Readable } from "node:stream"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { WebSocket, WebSocketServer } from "ws"
import {
  ChecksumMismatchError,
  ConnectionFailedError,
  fromStream,
  InvalidSourceError,
  NodeWebSocket,
  ServerRefusedError,
  upload,
  UploadCancelledError,
  uploadFile,
  type UploadProgress
} from "../../src/client/node.js"
import { startProxy } from "../support/proxy.js"
import { scratchDirectory } from "../support/scratch.js"
import { eventually, type RunningServer, sha256, startServer, visibleFiles } from "../support/server.js"

let server: RunningServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.stop())

const writeScratch = scratchDirectory("fr-client-").write

describe("upload (client library) against the real server", () => {
  it("uploads a file in binary chunks with a window in flight and reports progress up to the total", async () => {
    const bytes = sampleFor("big.pdf", 3 * 1024 * 1024 + 17)
    const progress: Array<UploadProgress> = []
    // Counts binary chunks sent and not yet answered, as the client's socket sees them.
    let unanswered = 0, mostUnanswered = 0
    const Counting = class extends (NodeWebSocket as unknown as typeof WebSocket) {
      constructor(url: string) {
        super(url, { perMessageDeflate: false })
        this.on("message", (data) => {
          const type = (JSON.parse(data.toString()) as { type: string }).type
          if (type === "chunk_received" || type === "file_received") unanswered--
        })
      }
      override send(data: Parameters<WebSocket["send"]>[0]) {
        if (typeof data !== "string") mostUnanswered = Math.max(mostUnanswered, ++unanswered)
        super.send(data)
      }
    } as unknown as typeof NodeWebSocket
    const result = await uploadFile(await writeScratch("big.pdf", bytes), {
      url: server.url,
      chunkBytes: 128 * 1024,
      WebSocket: Counting,
      onProgress: (p) => progress.push(p)
    })

    expect(result).toMatchObject({ storedName: "big.pdf", extension: "pdf", size: bytes.length, reconnects: 0 })
    expect(result.sha256).toBe(sha256(bytes))
    expect(sha256(await fs.readFile(path.join(server.directory, "big.pdf")))).toBe(sha256(bytes))
    const sent = progress.filter((p) => p.phase === "uploading").map((p) => p.bytes)
    expect(sent).toEqual([...sent].sort((a, b) => a - b))
    expect(sent.at(-1)).toBe(bytes.length)
    expect(progress.at(-1)?.eta).toBe(0)
    expect(mostUnanswered).toBeGreaterThan(1)
    expect(mostUnanswered).toBeLessThanOrEqual(8)
  })

  it("sends the sha256 up front when asked, and the server refuses a file that does not match it", async () => {
    const bytes = sampleFor("checked.txt", 200_000)
    const file = await writeScratch("checked.txt", bytes)
    const phases = new Set<string>()
    const ok = await uploadFile(file, { url: server.url, sha256: true, onProgress: (p) => phases.add(p.phase) })
    expect(ok.sha256).toBe(sha256(bytes))
    expect(phases.has("hashing")).toBe(true)

    const refused = await uploadFile(file, { url: server.url, sha256: "0".repeat(64) }).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ServerRefusedError)
    expect((refused as Error).message).toMatch(/sha256/i)
  })

  it("rejects with the server's own text for a refused extension", async () => {
    const error = await upload({ name: "tool.exe", size: 3, randomAccess: true, read: async () => new Uint8Array(3) }, {
      url: server.url,
      WebSocket: NodeWebSocket
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ServerRefusedError)
    expect((error as Error).message).toBe("Invalid file extension: exe. Allowed: txt, pdf, png, jpg, jpeg, gif")
  })

  it("uploads a stream read once, hashing it on the way and checking the server's digest", async () => {
    const bytes = sampleFor("streamed.png", 1024 * 1024 + 5)
    const pieces = Readable.from(Array.from({ length: 33 }, (_, i) => bytes.subarray(i * 32_000, (i + 1) * 32_000)))
    const result = await upload(fromStream(pieces, "streamed.png", bytes.length), {
      url: server.url,
      WebSocket: NodeWebSocket,
      sha256: true,
      chunkBytes: 100_000
    })
    expect(result.storedName).toBe("streamed.png")
    expect(sha256(await fs.readFile(path.join(server.directory, "streamed.png")))).toBe(sha256(bytes))
  })

  it("a stream that ends before its declared size rejects with InvalidSourceError and the server discards the partial file", async () => {
    const bytes = sampleFor("short.pdf", 300_000)
    const error = await upload(fromStream(Readable.from([bytes]), "short.pdf", 1_000_000), {
      url: server.url,
      WebSocket: NodeWebSocket,
      chunkBytes: 100_000
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidSourceError)
    await eventually(async () => {
      const names = await fs.readdir(server.directory)
      expect(names.filter((name) => name.endsWith(".part"))).toEqual([])
    })
  })

  it("resumes from the server's offset after the connection is cut mid-upload", async () => {
    const proxy = await startProxy(server.port)
    try {
      const bytes = sampleFor("resumed.jpg", 4 * 1024 * 1024)
      let cut = false
      const resumedFrom: Array<number> = []
      let reconnecting = false
      const result = await uploadFile(await writeScratch("resumed.jpg", bytes), {
        url: `ws://127.0.0.1:${proxy.port}/ws/file-transfer/`,
        chunkBytes: 64 * 1024,
        window: 4,
        sha256: true,
        minDelay: 50,
        onProgress: (p) => {
          if (p.phase === "reconnecting") reconnecting = true
          else if (p.phase === "uploading" && reconnecting) {
            reconnecting = false
            resumedFrom.push(p.bytes)
          }
          if (!cut && p.phase === "uploading" && p.bytes >= 1024 * 1024) {
            cut = true
            proxy.dropAll()
          }
        }
      })
      expect(result.reconnects).toBeGreaterThanOrEqual(1)
      expect(proxy.connections()).toBeGreaterThanOrEqual(2)
      expect(resumedFrom[0]).toBeGreaterThanOrEqual(1024 * 1024)
      expect(sha256(await fs.readFile(path.join(server.directory, "resumed.jpg")))).toBe(sha256(bytes))
    } finally {
      await proxy.close()
    }
  })

  it("replaces a connection whose replies stop (a link that died silently) and resumes on a new one", async () => {
    const proxy = await startProxy(server.port)
    try {
      const bytes = sampleFor("silent.pdf", 2 * 1024 * 1024)
      const reasons: Array<string> = []
      proxy.stallAfter(1500) // the handshake, meta_received and some acknowledgements, then silence
      const result = await uploadFile(await writeScratch("silent.pdf", bytes), {
        url: `ws://127.0.0.1:${proxy.port}/ws/file-transfer/`,
        chunkBytes: 64 * 1024,
        window: 2,
        replyTimeout: 1500,
        minDelay: 20,
        onReconnect: (info) => {
          reasons.push(info.reason)
          proxy.release()
        }
      })
      expect(reasons[0]).toContain("no reply for 1.5 s")
      expect(result.reconnects).toBeGreaterThanOrEqual(1) // more only if the loaded machine paused that long too
      expect(sha256(await fs.readFile(path.join(server.directory, "silent.pdf")))).toBe(sha256(bytes))
    } finally {
      await proxy.close()
    }
  })

  it("cancels when aborted: rejects with UploadCancelledError and the server discards the partial file", async () => {
    const bytes = sampleFor("cancelled.gif", 8 * 1024 * 1024)
    const controller = new AbortController()
    const error = await uploadFile(await writeScratch("cancelled.gif", bytes), {
      url: server.url,
      chunkBytes: 16 * 1024,
      window: 1,
      signal: controller.signal,
      onProgress: (p) => p.bytes > 256 * 1024 && controller.abort()
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UploadCancelledError)
    await eventually(async () => {
      const names = await fs.readdir(server.directory)
      expect(names.filter((name) => name.includes("cancelled") || name.endsWith(".part"))).toEqual([])
    })
    expect(await visibleFiles(server.directory)).not.toContain("cancelled.gif")
  })

  it("cancelled during the reconnection backoff: the server still discards the partial file", async () => {
    const proxy = await startProxy(server.port)
    try {
      const controller = new AbortController()
      let cut = false
      const error = await uploadFile(await writeScratch("backoff-cancel.pdf", sampleFor("backoff-cancel.pdf", 4 * 1024 * 1024)), {
        url: `ws://127.0.0.1:${proxy.port}/ws/file-transfer/`,
        chunkBytes: 64 * 1024,
        window: 2,
        minDelay: 20_000,
        maxDelay: 20_000,
        signal: controller.signal,
        onProgress: (p) => {
          if (!cut && p.phase === "uploading" && p.bytes >= 512 * 1024) {
            cut = true
            proxy.dropAll()
          }
        },
        onReconnect: () => void setTimeout(() => controller.abort(), 50)
      }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(UploadCancelledError)
      const names = await fs.readdir(server.directory)
      expect(names.filter((name) => name.endsWith(".part"))).toEqual([])
    } finally {
      await proxy.close()
    }
  })

  it("cancelled as hashing ends: rejects with UploadCancelledError instead of sending the file", async () => {
    const controller = new AbortController()
    const error = await uploadFile(await writeScratch("hash-cancel.txt", sampleFor("hash-cancel.txt", 300_000)), {
      url: server.url,
      sha256: true,
      signal: controller.signal,
      onProgress: (p) => p.phase === "hashing" && p.bytes === p.total && controller.abort()
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UploadCancelledError)
    expect(await visibleFiles(server.directory)).not.toContain("hash-cancel.txt")
  })

  it("fails at once with ConnectionFailedError for a malformed URL, without retrying", async () => {
    const attempts: Array<number> = []
    const error = await uploadFile(await writeScratch("bad-url.txt", Buffer.from("hi")), {
      url: "not a url",
      onReconnect: (info) => attempts.push(info.attempt)
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionFailedError)
    expect((error as Error).message).toBe("Invalid URL: not a url")
    expect(attempts).toEqual([])
  })

  it("gives up with ConnectionFailedError after the retries when nothing listens", async () => {
    const proxy = await startProxy(server.port)
    const port = proxy.port
    await proxy.close()
    const attempts: Array<number> = []
    const error = await uploadFile(await writeScratch("nowhere.txt", Buffer.from("hi")), {
      url: `ws://127.0.0.1:${port}/ws/file-transfer/`,
      retries: 2,
      minDelay: 10,
      onReconnect: (info) => attempts.push(info.attempt)
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConnectionFailedError)
    expect(attempts).toEqual([1, 2])
  })
})

describe("upload (client library) against a server without the newer modes", () => {
  it("falls back to base64 JSON chunks, one at a time, without offsets, and passes the token in the query", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" })
    const seen: Array<Record<string, unknown>> = []
    const urls: Array<string> = []
    let binaryFrames = 0
    let maxUnanswered = 0
    wss.on("connection", (ws, request) => {
      urls.push(request.url ?? "")
      let size = 0, received = 0, unanswered = 0
      ws.on("message", (data, isBinary) => {
        if (isBinary) return void binaryFrames++
        const message = JSON.parse(data.toString()) as Record<string, unknown>
        seen.push(message)
        if (message["type"] === "file_meta") {
          size = message["file_size"] as number
          return ws.send(JSON.stringify({ type: "meta_received", message: "Ready to receive file" }))
        }
        unanswered++
        maxUnanswered = Math.max(maxUnanswered, unanswered)
        // Answer a little later, so a client that does not wait would have sent more by now.
        setTimeout(() => {
          unanswered--
          received += Buffer.from(message["chunk"] as string, "base64").length
          ws.send(JSON.stringify(
            received < size
              ? { type: "chunk_received", message: "Ready for next chunk" }
              : { type: "file_received", message: "File old.txt received successfully and file extension is `txt`" }
          ))
        }, 5)
      })
    })
    await new Promise((resolve) => wss.once("listening", resolve))
    try {
      const { port } = wss.address() as { port: number }
      const bytes = randomBytes(50_000)
      const result = await uploadFile(await writeScratch("old.txt", bytes), {
        url: `ws://127.0.0.1:${port}/ws/file-transfer/`,
        token: "s3cret",
        chunkBytes: 8_000
      })
      expect(result.storedName).toBe("old.txt")
      expect(urls[0]).toBe("/ws/file-transfer/?token=s3cret")
      expect(binaryFrames).toBe(0)
      expect(maxUnanswered).toBe(1)
      const chunks = seen.filter((m) => m["type"] === "file_chunk")
      expect(chunks).toHaveLength(7)
      expect(chunks.every((m) => !("offset" in m))).toBe(true)
      expect(Buffer.concat(chunks.map((m) => Buffer.from(m["chunk"] as string, "base64")))).toEqual(bytes)
    } finally {
      await new Promise((resolve) => wss.close(resolve))
    }
  })

  it("rejects with ChecksumMismatchError when the server reports another sha256 than the stream hashed", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" })
    wss.on("connection", (ws) =>
      ws.on("message", (data, isBinary) => {
        if (isBinary) return
        const message = JSON.parse(data.toString()) as Record<string, unknown>
        ws.send(JSON.stringify(
          message["type"] === "file_meta"
            ? { type: "meta_received", message: "Ready to receive file" }
            : { type: "file_received", message: "File s.txt received successfully and file extension is `txt`", sha256: "ab".repeat(32) }
        ))
      }))
    await new Promise((resolve) => wss.once("listening", resolve))
    try {
      const { port } = wss.address() as { port: number }
      const error = await upload(fromStream(Readable.from([Buffer.from("hello")]), "s.txt", 5), {
        url: `ws://127.0.0.1:${port}/`,
        WebSocket: NodeWebSocket,
        sha256: true
      }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ChecksumMismatchError)
      expect(error).toMatchObject({ actual: "ab".repeat(32), expected: sha256(Buffer.from("hello")) })
    } finally {
      await new Promise((resolve) => wss.close(resolve))
    }
  })
})

describe("upload (client library) against stand-in servers (busy resumes, refusals mid-window)", () => {
  it("keeps retrying a resume the server refuses as busy for longer than `retries` allows, then completes", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" })
    const busy = "This upload is open on another connection; close that one first or wait for it to time out"
    let connections = 0
    const stored: Array<Buffer> = []
    wss.on("connection", (ws) => {
      const connection = ++connections
      ws.on("message", (data, isBinary) => {
        if (!isBinary) {
          const message = JSON.parse(data.toString()) as Record<string, unknown>
          if (message["type"] !== "file_meta") return
          // 1: accepts, then drops at the first chunk; 2..11: busy (more than `retries`); then accepts.
          if (connection > 1 && connection <= 11) return ws.send(JSON.stringify({ type: "error", message: busy }))
          const received = stored.reduce((n, b) => n + b.length, 0)
          return ws.send(JSON.stringify({ type: "meta_received", message: "Ready to receive file", binary_chunks: true, upload_id: "u1", offset: received }))
        }
        if (connection === 1) return ws.terminate()
        stored.push(data as Buffer)
        const received = stored.reduce((n, b) => n + b.length, 0)
        ws.send(JSON.stringify(
          received < 3000
            ? { type: "chunk_received", message: "Ready for next chunk", received }
            : { type: "file_received", message: "File b.txt received successfully and file extension is `txt`" }
        ))
      })
    })
    await new Promise((resolve) => wss.once("listening", resolve))
    try {
      const { port } = wss.address() as { port: number }
      const bytes = randomBytes(3000)
      const result = await uploadFile(await writeScratch("b.txt", bytes), {
        url: `ws://127.0.0.1:${port}/`,
        chunkBytes: 1000,
        retries: 2,
        minDelay: 5,
        maxDelay: 20
      })
      expect(connections).toBe(12)
      expect(result.reconnects).toBe(11)
      expect(Buffer.concat(stored)).toEqual(bytes)
    } finally {
      await new Promise((resolve) => wss.close(resolve))
    }
  })

  it("asks the server to discard the upload when it refuses a chunk mid-window", async () => {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" })
    const types: Array<string> = []
    wss.on("connection", (ws) => {
      let chunks = 0
      ws.on("message", (data, isBinary) => {
        if (isBinary) {
          types.push("binary")
          // A refusal that keeps the upload open, as for a misplaced chunk.
          if (++chunks === 2) ws.send(JSON.stringify({ type: "error", message: "Disk trouble: try again" }))
          else ws.send(JSON.stringify({ type: "chunk_received", message: "Ready for next chunk", received: chunks * 1000 }))
          return
        }
        const message = JSON.parse(data.toString()) as Record<string, unknown>
        types.push(message["type"] as string)
        if (message["type"] === "file_meta") {
          ws.send(JSON.stringify({ type: "meta_received", message: "Ready to receive file", binary_chunks: true, upload_id: "u2", offset: 0 }))
        }
      })
    })
    await new Promise((resolve) => wss.once("listening", resolve))
    try {
      const { port } = wss.address() as { port: number }
      const error = await uploadFile(await writeScratch("refused-mid.txt", sampleFor("refused-mid.txt", 10_000)), {
        url: `ws://127.0.0.1:${port}/`,
        chunkBytes: 1000,
        window: 4
      }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ServerRefusedError)
      expect((error as Error).message).toBe("Disk trouble: try again")
      await eventually(async () => expect(types).toContain("cancel"))
    } finally {
      await new Promise((resolve) => wss.close(resolve))
    }
  })
})
