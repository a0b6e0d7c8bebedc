/**
 * One connection of an upload: announce the file (resuming with its
 * `upload_id`), continue from the server's offset, send with a window until
 * `file_received`, and say how the connection ended so `upload` can decide
 * what comes next (done, reconnect, wait, start over).
 */
import { ConfirmedBytesLostError, ServerRefusedError } from "./Errors.js"
import { errorKind, retryAfterMs, serverCode } from "./ErrorReply.js"
import type { UploadResult } from "./Options.js"
import type { ProgressMeter } from "./Progress.js"
import { type EventSocket, type Reply, withReplyTimeout } from "./Socket.js"
import type { UploadSource } from "./Source.js"
import { toBase64 } from "./Bytes.js"

export type Attempt =
  | { readonly _tag: "done"; readonly result: UploadResult }
  /** Aborted; `discardSent` when `cancel` already went out on this connection. */
  | { readonly _tag: "cancelled"; readonly discardSent: boolean }
  | { readonly _tag: "dropped"; readonly reason: string; readonly code: number | undefined }
  /**
   * Refused for now, the upload kept for a resume: `busy` (the connection that dropped still holds
   * it), `storage_unavailable` (the server cannot reach its store). Waited out by time, not count.
   */
  | {
    readonly _tag: "suspended"
    readonly kind: "busy" | "storage_unavailable"
    readonly message: string
    readonly retryAfterMs: number | undefined
  }
  /** The server no longer knows the upload_id: start over without it. */
  | { readonly _tag: "restart" }

export interface AttemptContext {
  readonly source: UploadSource
  readonly read: (start: number, end: number) => Promise<Uint8Array>
  readonly uploadId: string | undefined
  readonly sha256: string | undefined
  readonly chunkBytes: number
  readonly window: number
  readonly replyTimeout: number
  readonly meter: ProgressMeter
  readonly setUploadId: (id: string) => void
  /** The server holds every byte before `offset`: the source may drop them. */
  readonly release: (offset: number) => void
  /** The highest offset the source was allowed to drop: a stream cannot be read before it. */
  readonly released: () => number
}

const CANCEL = JSON.stringify({ type: "cancel" })

/** One connection: announce, resume from the server's offset, send with a window, until done or dropped. */
export const runAttempt = async (socketEvents: EventSocket, ctx: AttemptContext): Promise<Attempt> => {
  const { source, meter } = ctx
  const events = withReplyTimeout(socketEvents, ctx.replyTimeout)
  const opened = await events.next()
  if (opened._tag === "abort") return { _tag: "cancelled", discardSent: false }
  if (opened._tag !== "open") return dropped(opened, "could not connect")
  const socket = socketEvents.socket
  socket.send(JSON.stringify({
    type: "file_meta",
    file_name: source.name,
    file_size: source.size,
    ...(ctx.uploadId === undefined ? {} : { upload_id: ctx.uploadId }),
    ...(ctx.sha256 === undefined ? {} : { sha256: ctx.sha256 })
  }))

  const answer = await events.next()
  if (answer._tag === "abort") {
    // The server handles frames in order: this discards whatever the file_meta opened (an older server answers an error).
    socket.send(CANCEL)
    return { _tag: "cancelled", discardSent: true }
  }
  if (answer._tag !== "reply") return dropped(answer, "connection lost")
  const meta = answer.reply
  if (meta.type === "error") return refusedMeta(meta)
  // A resume of an upload the server already completed (the reply was lost with the connection): answered as the first time.
  if (meta.type === "file_received") return done(meta, meter, source.size)
  if (meta.type !== "meta_received") throw new ServerRefusedError(`Unexpected reply to file_meta: ${meta.type}`)

  // Negotiation: an older server sends none of these fields, and gets base64, stop-and-wait, no resume.
  const resumable = typeof meta["upload_id"] === "string"
  if (resumable) ctx.setUploadId(meta["upload_id"] as string)
  const binary = meta["binary_chunks"] === true
  const serverMax = typeof meta["max_chunk_bytes"] === "number" ? meta["max_chunk_bytes"] : Infinity
  const chunkBytes = Math.max(1, Math.min(ctx.chunkBytes, serverMax))
  const window = resumable ? ctx.window : 1
  const offset = resumable && typeof meta["offset"] === "number" ? meta["offset"] : 0
  if (!source.randomAccess && offset < ctx.released()) {
    // The server lost bytes it had confirmed and the stream already let them go: its partial copy is of no use now.
    if (resumable) socket.send(CANCEL)
    throw new ConfirmedBytesLostError(ctx.released(), offset, resumable)
  }
  // Lower than what was confirmed before when the server lost bytes: a random-access source sends them again.
  meter.resumeAt(offset)
  ctx.release(offset)

  let next = offset
  const inFlight: Array<number> = [] // end offsets of chunks sent, oldest first
  for (;;) {
    while (inFlight.length < window && next < source.size) {
      const end = Math.min(next + chunkBytes, source.size)
      const bytes = await ctx.read(next, end).catch((error: unknown) => {
        // The file cannot be sent: have the server drop what it holds rather than keep it for a resume.
        if (resumable && socket.readyState === 1) socket.send(CANCEL)
        throw error
      })
      if (socket.readyState !== 1) break
      if (binary) socket.send(bytes)
      else socket.send(JSON.stringify({ type: "file_chunk", chunk: toBase64(bytes), ...(resumable ? { offset: next } : {}) }))
      inFlight.push(end)
      next = end
    }
    const event = await events.next()
    switch (event._tag) {
      case "abort":
        if (resumable && socket.readyState === 1) {
          socket.send(CANCEL)
          return { _tag: "cancelled", discardSent: true }
        }
        return { _tag: "cancelled", discardSent: false }
      case "closed":
        return dropped(event, "connection lost")
      case "open":
        continue
      case "reply":
        break
    }
    const reply = event.reply
    switch (reply.type) {
      case "chunk_received": {
        const end = inFlight.shift()
        const received = typeof reply["received"] === "number" ? reply["received"] : end ?? meter.acked()
        ctx.release(received)
        meter.acknowledged(received)
        break
      }
      case "file_received":
        return done(reply, meter, source.size)
      case "error":
        // The server kept what its store holds and waits for a resume once the store answers again.
        if (errorKind(reply) === "storage_unavailable") return suspended(reply, "storage_unavailable")
        // Giving up: an upload the server kept after this error would otherwise wait a day for a resume that never comes.
        if (resumable && socket.readyState === 1) socket.send(CANCEL)
        throw new ServerRefusedError(reply.message, serverCode(reply))
    }
  }
}

/** An error answer to file_meta: wait (busy, storage), start over (unknown upload_id), or give up. */
const refusedMeta = (reply: Reply): Attempt => {
  const kind = errorKind(reply)
  if (kind === "busy" || kind === "storage_unavailable") return suspended(reply, kind)
  if (kind === "unknown_upload") return { _tag: "restart" }
  throw new ServerRefusedError(reply.message, serverCode(reply))
}

const suspended = (reply: Reply, kind: "busy" | "storage_unavailable"): Attempt => ({
  _tag: "suspended",
  kind,
  message: reply.message,
  retryAfterMs: retryAfterMs(reply)
})

const done = (reply: Reply, meter: ProgressMeter, size: number): Attempt => {
  meter.acknowledged(size)
  return { _tag: "done", result: resultOf(reply, size) }
}

const dropped = (event: { readonly _tag: string; readonly code?: number; readonly reason?: string }, what: string): Attempt => {
  const code = event._tag === "closed" ? event.code : undefined
  const detail = code === undefined ? "" : ` (code ${code}${event.reason ? `: ${event.reason}` : ""})`
  return { _tag: "dropped", reason: `${what}${detail}`, code }
}

const resultOf = (reply: Reply, size: number): UploadResult => ({
  storedName: /^File (.+) received successfully/s.exec(reply.message)?.[1] ?? "",
  extension: typeof reply["extension"] === "string" ? reply["extension"] : "",
  sha256: typeof reply["sha256"] === "string" ? reply["sha256"] : undefined,
  message: reply.message,
  size,
  reconnects: 0
})
