/**
 * The benchmark's reference: the file-receiver protocol written the leanest
 * way with plain `ws`, as a user would hand-write it. JSON.parse each text
 * frame, decode base64 with Buffer, append to one fs.WriteStream per upload
 * (waiting for "drain" when write() says so), and ack each chunk; a binary
 * frame is a chunk of raw bytes. Each connection's frames are handled in
 * order by a promise chain. No validation beyond what the protocol needs and
 * no memory bound: a client that never waits is buffered in full.
 *
 * Run as a child process by the bench: PORT (0 = any), HOST,
 * FILE_SAVE_DIRECTORY; prints "listening on http://host:port".
 */
import { once } from "node:events"
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { type RawData, type WebSocket, WebSocketServer } from "ws"

const host = process.env["HOST"] ?? "127.0.0.1"
const port = Number(process.env["PORT"] ?? "0")
const directory = path.resolve(process.env["FILE_SAVE_DIRECTORY"] ?? "uploaded_files")
const MAX_CHUNK_BYTES = 1024 * 1024

interface Upload {
  readonly stream: WriteStream
  readonly storedName: string
  readonly extension: string
  readonly size: number
}

interface Message {
  readonly type?: unknown
  readonly file_name?: unknown
  readonly file_size?: unknown
  readonly chunk?: unknown
}

let sequence = 0

const toBuffer = (data: RawData): Buffer =>
  Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)

const serve = (ws: WebSocket): void => {
  const reply = (message: object) => ws.send(JSON.stringify(message))
  const error = (message: string) => reply({ type: "error", message })
  let upload: Upload | undefined
  let received = 0
  let chain: Promise<void> = Promise.resolve()

  const onMeta = (message: Message): void => {
    upload?.stream.destroy()
    upload = undefined
    const { file_name: name, file_size: size } = message
    if (typeof name !== "string" || typeof size !== "number" || !Number.isSafeInteger(size) || size <= 0) {
      return error("Invalid file_meta: expected file_name and a positive file_size")
    }
    const base = path.basename(name)
    const storedName = `${++sequence}-${base}`
    const stream = createWriteStream(path.join(directory, storedName))
    upload = { stream, storedName, extension: path.extname(base).slice(1).toLowerCase(), size }
    received = 0
    reply({ type: "meta_received", message: "Ready to receive file", max_chunk_bytes: MAX_CHUNK_BYTES, binary_chunks: true })
  }

  const onChunk = async (bytes: Buffer): Promise<void> => {
    const current = upload
    if (current === undefined) return error("No upload in progress: send file_meta first")
    if (received + bytes.length > current.size) {
      current.stream.destroy()
      upload = undefined
      return error(`Chunk exceeds the declared file size (${current.size} bytes); upload discarded`)
    }
    received += bytes.length
    if (!current.stream.write(bytes)) await once(current.stream, "drain")
    if (received < current.size) return reply({ type: "chunk_received", message: "Ready for next chunk", received })
    upload = undefined
    current.stream.end()
    await once(current.stream, "finish")
    reply({
      type: "file_received",
      message: `File ${current.storedName} received successfully and file extension is \`${current.extension}\``,
      extension: current.extension
    })
  }

  const handle = async (data: RawData, isBinary: boolean): Promise<void> => {
    if (isBinary) return onChunk(toBuffer(data))
    const message = JSON.parse(toBuffer(data).toString("utf8")) as Message
    if (message.type === "file_meta") return onMeta(message)
    if (message.type === "file_chunk" && typeof message.chunk === "string") {
      return onChunk(Buffer.from(message.chunk, "base64"))
    }
    error("Unknown message type (expected file_meta or file_chunk)")
  }

  ws.on("message", (data, isBinary) => {
    chain = chain.then(() => handle(data, isBinary)).catch((cause: unknown) => error(String(cause)))
  })
  ws.on("close", () => {
    void chain.then(() => upload?.stream.destroy())
  })
  ws.on("error", () => undefined)
}

mkdirSync(directory, { recursive: true })
const wss = new WebSocketServer({
  host,
  port,
  path: "/ws/file-transfer/",
  perMessageDeflate: false,
  maxPayload: 64 * 1024 * 1024
})
wss.on("connection", serve)
wss.on("listening", () => {
  console.log(`listening on http://${host}:${(wss.address() as AddressInfo).port}`)
})

// Exit cleanly on SIGTERM (the bench stops servers this way; lets --cpu-prof write its profile).
process.on("SIGTERM", () => process.exit(0))
