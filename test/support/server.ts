/**
 * Test harness: runs the real service layer (as main does) on port 0 with a
 * given configuration and a fresh save directory, and a small `ws` client
 * that reads replies one at a time.
 */
import { ConfigProvider, Layer, Logger, ManagedRuntime } from "effect"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { type ClientOptions, WebSocket } from "ws"
import { ServerAddress } from "../../src/adapters/ws/WebSocketServer.js"
import * as Server from "../../src/Server.js"
import * as ServerLogs from "./serverLogs.js"

export interface RunningServer {
  readonly port: number
  readonly directory: string
  readonly url: string
  readonly stop: () => Promise<void>
}

/**
 * Starts the service with `env` (on top of PORT=0 and a temp FILE_SAVE_DIRECTORY).
 * It logs into the test's kept logs, printed if the test fails (see serverLogs.ts).
 */
export const startServer = async (env: Record<string, string> = {}): Promise<RunningServer> => {
  const directory = env["FILE_SAVE_DIRECTORY"] ?? (await fs.mkdtemp(path.join(os.tmpdir(), "fr-e2e-")))
  const config = new Map(Object.entries({ PORT: "0", FILE_SAVE_DIRECTORY: directory, ...env }))
  const runtime = ManagedRuntime.make(
    Server.layer.pipe(
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(config))),
      Layer.provide(Layer.merge(ServerLogs.logger("server"), Logger.minimumLogLevel(ServerLogs.level)))
    )
  )
  const { port } = await runtime.runPromise(ServerAddress)
  return {
    port,
    directory,
    url: `ws://127.0.0.1:${port}/ws/file-transfer/`,
    stop: async () => {
      await runtime.dispose()
      if (env["FILE_SAVE_DIRECTORY"] === undefined) await fs.rm(directory, { recursive: true, force: true })
    }
  }
}

export type Reply = { readonly type: string; readonly message: string; readonly [field: string]: unknown }

/** A `ws` client whose replies are read in order with `next()`. */
export interface TestClient {
  readonly socket: WebSocket
  readonly send: (message: unknown) => void
  readonly sendRaw: (data: string | Buffer, binary?: boolean) => void
  readonly next: (timeoutMillis?: number) => Promise<Reply>
  /** Resolves with the close code once the server closes the connection. */
  readonly closed: Promise<number>
  readonly close: () => void
}

export const connect = (url: string, options: ClientOptions = {}): Promise<TestClient> =>
  new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false, ...options })
    const inbox: Array<Reply> = []
    const waiting: Array<(reply: Reply) => void> = []
    socket.on("message", (data) => {
      const reply = JSON.parse(data.toString()) as Reply
      const waiter = waiting.shift()
      if (waiter) waiter(reply)
      else inbox.push(reply)
    })
    const closed = new Promise<number>((resolveClose) => socket.on("close", (code) => resolveClose(code)))
    socket.on("error", reject)
    socket.on("open", () =>
      resolve({
        socket,
        closed,
        send: (message) => socket.send(JSON.stringify(message)),
        sendRaw: (data, binary = false) => socket.send(data, { binary }),
        next: (timeoutMillis = 10_000) =>
          new Promise<Reply>((resolveReply, rejectReply) => {
            const queued = inbox.shift()
            if (queued) return resolveReply(queued)
            const timer = setTimeout(() => rejectReply(new Error("no reply within timeout")), timeoutMillis)
            waiting.push((reply) => {
              clearTimeout(timer)
              resolveReply(reply)
            })
          }),
        close: () => socket.close()
      }))
  })

/** The HTTP status a WebSocket handshake gets: 101 when it is accepted. */
export const handshakeStatus = (url: string, options: ClientOptions = {}): Promise<number> =>
  new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false, ...options })
    socket.on("open", () => {
      socket.close()
      resolve(101)
    })
    socket.on("unexpected-response", (_request, response) => {
      resolve(response.statusCode ?? 0)
      response.resume()
    })
    socket.on("error", reject)
  })

export const meta = (file_name: string, file_size: number) => ({ type: "file_meta", file_name, file_size })
export const chunk = (bytes: Uint8Array) => ({ type: "file_chunk", chunk: Buffer.from(bytes).toString("base64") })
export const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** `size` random bytes that pass the content check as a PDF: the PDF signature, then noise. */
export const samplePdf = (size: number): Buffer => {
  const bytes = randomBytes(size)
  bytes.write("%PDF-1.7\n")
  return bytes
}

/** `size` bytes of random printable ASCII: they pass the content check as text. */
export const sampleText = (size: number): Buffer => {
  const bytes = randomBytes(size)
  for (let i = 0; i < size; i++) bytes[i] = 0x20 + (bytes[i]! % 95)
  return bytes
}

/** Uploads `content` stop-and-wait in `chunkSize` pieces; returns the last reply. */
export const upload = async (client: TestClient, name: string, content: Uint8Array, chunkSize = 64 * 1024) => {
  client.send(meta(name, content.length))
  const first = await client.next()
  if (first.type !== "meta_received" || content.length === 0) return content.length === 0 ? client.next() : first
  let last = first
  for (let offset = 0; offset < content.length; offset += chunkSize) {
    client.send(chunk(content.subarray(offset, offset + chunkSize)))
    last = await client.next()
    if (last.type === "error") return last
  }
  return last
}

/** Files in `directory`, partial files included, sorted. */
export const listDirectory = (directory: string) => fs.readdir(directory).then((names) => names.sort())

/** Published files in `directory` (partial files and their records are hidden dot-files). */
export const visibleFiles = (directory: string) =>
  listDirectory(directory).then((names) => names.filter((name) => !name.startsWith(".")))

/** Polls `check` until it passes or `timeoutMillis` elapses (for effects that follow a disconnect). */
export const eventually = async (check: () => Promise<void>, timeoutMillis = 5_000): Promise<void> => {
  const deadline = Date.now() + timeoutMillis
  for (;;) {
    try {
      return await check()
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((r) => setTimeout(r, 50))
    }
  }
}
