/**
 * The benchmark's WebSocket client (`ws`, deflate off, bufferutil masking):
 * uploads one payload over one connection, in 256 KiB (or any) chunks, as
 * base64 `file_chunk` text frames or as binary frames, with a window of
 * unacknowledged chunks: 1 is stop-and-wait, 8 keeps 8 in flight, Infinity
 * never waits for a reply (only for the socket, so the client itself never
 * buffers more than a few MiB) and reads every reply at the end.
 * Every reply is checked in order; an error reply fails the upload.
 */
import { WebSocket } from "ws"
import { MiB, type Payload, slice } from "./content.js"

export interface WsUpload {
  readonly fileName: string
  readonly payload: Payload
  readonly chunkBytes: number
  readonly binary: boolean
  /** Chunks sent ahead of their replies: 1 = stop-and-wait, Infinity = never wait. */
  readonly window: number
  /** How long a reply may take (default 120 s; a large file's publish on S3 takes longer). */
  readonly replyTimeoutMillis?: number
}

type Reply = { readonly type?: unknown; readonly message?: unknown; readonly [field: string]: unknown }

const REPLY_TIMEOUT_MILLIS = 120_000
/** Past this many bytes queued in the client's socket, the sender waits for them to be written. */
const SEND_HIGH_WATER = 4 * MiB

interface Connection {
  readonly socket: WebSocket
  /** The next reply, in arrival order; rejects once the connection is closed and no reply is left. */
  readonly next: () => Promise<Reply>
  /** The first error reply received, if any (checked by senders that do not wait for replies). */
  readonly errorReply: () => Error | undefined
}

const describe = (reply: Reply): string => JSON.stringify(reply).slice(0, 300)

const connect = (url: string, replyTimeoutMillis = REPLY_TIMEOUT_MILLIS): Promise<Connection> =>
  new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false })
    const inbox: Array<Reply> = []
    let waiter: { readonly resolve: (reply: Reply) => void; readonly reject: (error: Error) => void } | undefined
    let closed: Error | undefined
    let errorReply: Error | undefined
    const deliver = (reply: Reply) => {
      if (reply.type === "error") errorReply ??= new Error(`server replied with an error: ${describe(reply)}`)
      const current = waiter
      waiter = undefined
      if (current === undefined) inbox.push(reply)
      else current.resolve(reply)
    }
    socket.on("message", (data, isBinary) => {
      try {
        if (isBinary) throw new Error("binary reply")
        deliver(JSON.parse(String(data)) as Reply)
      } catch {
        deliver({ type: "error", message: `unreadable reply: ${String(data).slice(0, 200)}` })
      }
    })
    socket.on("close", (code, reason) => {
      closed = new Error(`connection closed by the server (${code} ${reason.toString()})`)
      waiter?.reject(closed)
      waiter = undefined
    })
    socket.on("error", (error) => {
      closed ??= error
      reject(error)
    })
    socket.on("open", () =>
      resolve({
        socket,
        errorReply: () => errorReply,
        next: () => {
          const queued = inbox.shift()
          if (queued !== undefined) return Promise.resolve(queued)
          if (closed !== undefined) return Promise.reject(closed)
          return new Promise<Reply>((resolveReply, rejectReply) => {
            const timer = setTimeout(() => {
              waiter = undefined
              rejectReply(new Error(`no reply within ${replyTimeoutMillis} ms`))
            }, replyTimeoutMillis)
            waiter = {
              resolve: (reply) => {
                clearTimeout(timer)
                resolveReply(reply)
              },
              reject: (error) => {
                clearTimeout(timer)
                rejectReply(error)
              }
            }
          })
        }
      }))
  })

/** Sends one frame; when the socket already holds SEND_HIGH_WATER bytes, resolves once it is written. */
const sendFrame = (socket: WebSocket, data: Buffer | string, binary: boolean): Promise<void> | undefined => {
  if (socket.bufferedAmount < SEND_HIGH_WATER) {
    socket.send(data, { binary })
    return undefined
  }
  return new Promise((resolve, reject) => socket.send(data, { binary }, (error) => (error ? reject(error) : resolve())))
}

const chunkFrame = (bytes: Buffer, binary: boolean): Buffer | string =>
  binary ? bytes : `{"type":"file_chunk","chunk":"${bytes.toString("base64")}"}`

const STORED_NAME = /^File (.+) received successfully/

const upload = async (connection: Connection, spec: WsUpload): Promise<string> => {
  const { binary, chunkBytes, payload } = spec
  const { socket } = connection
  socket.send(JSON.stringify({ type: "file_meta", file_name: spec.fileName, file_size: payload.size }))
  const meta = await connection.next()
  if (meta.type !== "meta_received") throw new Error(`expected meta_received, got ${describe(meta)}`)
  if (binary && meta["binary_chunks"] !== true) {
    throw new Error(`the server does not offer binary chunks (no binary_chunks: true in ${describe(meta)})`)
  }
  const limit = meta["max_chunk_bytes"]
  if (typeof limit === "number" && chunkBytes > limit) throw new Error(`chunks of ${chunkBytes} bytes exceed ${limit}`)

  const chunks = Math.ceil(payload.size / chunkBytes)
  let acknowledged = 0
  let last: Reply = meta
  const takeReply = async () => {
    const reply = await connection.next()
    const isLast = acknowledged === chunks - 1
    const received = Math.min((acknowledged + 1) * chunkBytes, payload.size)
    const expected = isLast ? "file_received" : "chunk_received"
    if (reply.type !== expected) throw new Error(`chunk ${acknowledged}: expected ${expected}, got ${describe(reply)}`)
    if (!isLast && "received" in reply && reply["received"] !== received) {
      throw new Error(`chunk ${acknowledged}: expected received ${received}, got ${describe(reply)}`)
    }
    acknowledged++
    last = reply
  }
  for (let index = 0; index < chunks; index++) {
    while (index - acknowledged >= spec.window) await takeReply()
    const failed = connection.errorReply()
    if (failed !== undefined) throw failed
    const sent = sendFrame(socket, chunkFrame(slice(payload, index * chunkBytes, chunkBytes), binary), binary)
    if (sent !== undefined) await sent
  }
  while (acknowledged < chunks) await takeReply()
  const storedName = STORED_NAME.exec(String(last.message))?.[1]
  if (storedName === undefined) throw new Error(`no stored name in ${describe(last)}`)
  return storedName
}

/** Uploads `spec` over a new connection to `url`; returns the stored file name the server reported. */
export const uploadOverWs = async (url: string, spec: WsUpload): Promise<string> => {
  const connection = await connect(url, spec.replyTimeoutMillis)
  try {
    return await upload(connection, spec)
  } finally {
    connection.socket.close()
  }
}
