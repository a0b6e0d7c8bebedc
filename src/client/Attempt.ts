/**
 * One connection of an upload: announce the file (resuming with its
 * `upload_id`), continue from the server's offset, send with a window until
 * `file_received`, and say how the connection ended so `upload` can decide
 * what comes next (done, reconnect, wait, start over). Every message waits
 * its turn under the server's announced rate limit (Pacer.ts).
 */
import { ConfirmedBytesLostError, ServerRefusedError } from "./Errors.js"
import { errorKind, retryAfterMs, serverCode } from "./ErrorReply.js"
import type { UploadResult } from "./Options.js"
import { byteBudget, frameBytes, type Pacer, rateLimitOf, takeTurn } from "./Pacer.js"
import type { ProgressMeter } from "./Progress.js"
import { type EventSocket, type Reply, type WebSocketLike, withReplyTimeout } from "./Socket.js"
import type { UploadSource } from "./Source.js"
import { toBase64 } from "./Bytes.js"

/** The chunk against a server that announces no `max_chunk_bytes` (the original service). */
const LEGACY_CHUNK = 256 * 1024
/** The default chunk is the server's largest, up to this: memory, not the rate limit, decides beyond it. */
const LARGEST_DEFAULT_CHUNK = 16 * 1024 * 1024
/** The default window holds at most this many bytes in flight (and so in a stream source's memory). */
const WINDOW_BYTES = 32 * 1024 * 1024

export type Attempt =
  | { readonly _tag: "done"; readonly result: UploadResult }
  /** Aborted; `discardSent` when `cancel` already went out on this connection. */
  | { readonly _tag: "cancelled"; readonly discardSent: boolean }
  /**
   * The connection ended or never opened. `handshake` is set when it never opened: the HTTP status
   * when the WebSocket reports one (`reported`), undefined otherwise (a browser, no answer).
   */
  | {
    readonly _tag: "dropped"
    readonly reason: string
    readonly code: number | undefined
    readonly handshake: { readonly status: number | undefined; readonly reported: boolean } | undefined
  }
  /**
   * Refused for now, the upload kept for a resume: `busy` (the connection that dropped still holds
   * it), `storage_unavailable` (the server cannot reach its store), `rate_limited` and
   * `too_many_connections` (the server's limits; it closes the connection). Waited out by time, not count.
   */
  | {
    readonly _tag: "suspended"
    readonly kind: SuspendedKind
    readonly message: string
    readonly retryAfterMs: number | undefined
  }
  /** The server no longer knows the upload_id: start over without it. */
  | { readonly _tag: "restart" }

export type SuspendedKind = "busy" | "storage_unavailable" | "rate_limited" | "too_many_connections"

export interface AttemptContext {
  readonly source: UploadSource
  readonly read: (start: number, end: number) => Promise<Uint8Array>
  readonly uploadId: string | undefined
  readonly sha256: string | undefined
  /** The caller's choices; undefined: decided from what the server announces. */
  readonly chunkBytes: number | undefined
  readonly window: number | undefined
  readonly replyTimeout: number
  readonly meter: ProgressMeter
  /** This server's rate-limit pacer (shared by every upload to it in the process). */
  readonly pacer: Pacer
  /** Hears of each wait for the rate limit. */
  readonly onWait: (delayMs: number) => void
  /** Aborts a wait for the rate limit (an abort while waiting for the server arrives as an event). */
  readonly signal: AbortSignal | undefined
  /** On abort, close without `cancel`: the server keeps the upload for a resume. */
  readonly keepOnAbort: boolean
  /** The server answered file_meta holding `offset` bytes (the file's size for a completed upload). */
  readonly answered: (offset: number) => void
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
  if (opened._tag !== "open") return ended(opened, "could not connect", handshakeOf(socketEvents.socket))
  const socket = socketEvents.socket
  /** Records and sends at once: a cancel does not wait for the rate limit. */
  const sendNow = (data: string) => {
    ctx.pacer.sent(frameBytes(data), Date.now())
    socket.send(data)
  }
  /** Waits for the message's turn under the rate limit; false when aborted meanwhile. */
  const turn = (data: string | Uint8Array) => takeTurn(ctx.pacer, frameBytes(data), ctx.signal, ctx.onWait).then(() => true, () => false)
  let resumable = false
  const aborted = (): Attempt => {
    if (ctx.keepOnAbort || !resumable || socket.readyState !== 1) return { _tag: "cancelled", discardSent: false }
    sendNow(CANCEL)
    return { _tag: "cancelled", discardSent: true }
  }

  const fileMeta = JSON.stringify({
    type: "file_meta",
    file_name: source.name,
    file_size: source.size,
    ...(ctx.uploadId === undefined ? {} : { upload_id: ctx.uploadId }),
    ...(ctx.sha256 === undefined ? {} : { sha256: ctx.sha256 })
  })
  if (!(await turn(fileMeta))) return { _tag: "cancelled", discardSent: false }
  if (socket.readyState !== 1) {
    const event = await events.next()
    return event._tag === "abort" ? { _tag: "cancelled", discardSent: false } : ended(event, "connection lost")
  }
  socket.send(fileMeta)

  const answer = await events.next()
  if (answer._tag === "abort") {
    if (ctx.keepOnAbort) return { _tag: "cancelled", discardSent: false }
    // The server handles frames in order: this discards whatever the file_meta opened (an older server answers an error).
    sendNow(CANCEL)
    return { _tag: "cancelled", discardSent: true }
  }
  if (answer._tag !== "reply") return ended(answer, "connection lost")
  const meta = answer.reply
  if (meta.type === "error") return refusedMeta(meta)
  // A resume of an upload the server already completed (the reply was lost with the connection): answered as the first time.
  if (meta.type === "file_received") {
    ctx.answered(source.size)
    return done(meta, meter, source.size)
  }
  if (meta.type !== "meta_received") throw new ServerRefusedError(`Unexpected reply to file_meta: ${meta.type}`)

  // Negotiation: an older server sends none of these fields, and gets base64, stop-and-wait, no resume.
  resumable = typeof meta["upload_id"] === "string"
  if (resumable) ctx.setUploadId(meta["upload_id"] as string)
  const limit = rateLimitOf(meta)
  if (limit !== undefined) ctx.pacer.announce(limit)
  const binary = meta["binary_chunks"] === true
  const serverMax = typeof meta["max_chunk_bytes"] === "number" ? meta["max_chunk_bytes"] : undefined
  const wanted = ctx.chunkBytes ?? (serverMax === undefined ? LEGACY_CHUNK : Math.min(serverMax, LARGEST_DEFAULT_CHUNK))
  // At most half the period's byte budget, so a chunk never waits for a period to pass alone.
  const chunkBytes = Math.max(1, Math.min(wanted, serverMax ?? Infinity, Math.floor(byteBudget(ctx.pacer.limit()) / 2)))
  const window = !resumable ? 1 : ctx.window ?? Math.max(2, Math.min(8, Math.floor(WINDOW_BYTES / chunkBytes)))
  const offset = resumable && typeof meta["offset"] === "number" ? meta["offset"] : 0
  ctx.answered(offset)
  if (!source.randomAccess && offset < ctx.released()) {
    // The server lost bytes it had confirmed and the stream already let them go: its partial copy is of no use now.
    if (resumable) sendNow(CANCEL)
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
        if (resumable && socket.readyState === 1) sendNow(CANCEL)
        throw error
      })
      const frame = binary ? bytes : JSON.stringify({ type: "file_chunk", chunk: toBase64(bytes), ...(resumable ? { offset: next } : {}) })
      if (!(await turn(frame))) return aborted()
      if (socket.readyState !== 1) break
      socket.send(frame)
      inFlight.push(end)
      next = end
    }
    const event = await events.next()
    switch (event._tag) {
      case "abort":
        return aborted()
      case "closed":
        return ended(event, "connection lost")
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
      case "error": {
        const kind = errorKind(reply)
        // The server kept what its store holds and waits for a resume once the store answers again,
        // or once its rate limit lets this client in again (it closes this connection).
        if (kind === "storage_unavailable" || kind === "rate_limited" || kind === "too_many_connections") return suspended(reply, kind)
        // Giving up: an upload the server kept after this error would otherwise wait a day for a resume that never comes.
        if (resumable && socket.readyState === 1) sendNow(CANCEL)
        throw new ServerRefusedError(reply.message, serverCode(reply))
      }
    }
  }
}

/** An error answer to file_meta: wait (busy, storage, limits), start over (unknown upload_id), or give up. */
const refusedMeta = (reply: Reply): Attempt => {
  const kind = errorKind(reply)
  if (kind === "unknown_upload") return { _tag: "restart" }
  if (kind !== "refused") return suspended(reply, kind)
  throw new ServerRefusedError(reply.message, serverCode(reply))
}

const suspended = (reply: Reply, kind: SuspendedKind): Attempt => ({
  _tag: "suspended",
  kind,
  message: reply.message,
  retryAfterMs: retryAfterMs(reply)
})

const done = (reply: Reply, meter: ProgressMeter, size: number): Attempt => {
  meter.acknowledged(size)
  return { _tag: "done", result: resultOf(reply, size) }
}

/** WebSocket close code of a connection refused by a connection limit, sent without a reply by some servers. */
const CLOSE_TRY_AGAIN_LATER = 1013

type Handshake = Extract<Attempt, { _tag: "dropped" }>["handshake"]

/** What the socket says of its failed handshake (it never opened). */
const handshakeOf = (socket: WebSocketLike | undefined): Handshake => ({
  status: socket?.handshakeStatus,
  reported: socket !== undefined && "handshakeStatus" in socket
})

/** A connection that closed; `handshake` is set for one that never opened. */
const ended = (
  event: { readonly _tag: string; readonly code?: number; readonly reason?: string },
  what: string,
  handshake: Handshake = undefined
): Attempt => {
  const code = event._tag === "closed" ? event.code : undefined
  const detail = code === undefined ? "" : ` (code ${code}${event.reason ? `: ${event.reason}` : ""})`
  if (code === CLOSE_TRY_AGAIN_LATER) {
    return { _tag: "suspended", kind: "too_many_connections", message: event.reason || "Too many connections", retryAfterMs: undefined }
  }
  return { _tag: "dropped", reason: `${what}${detail}`, code, handshake }
}

const resultOf = (reply: Reply, size: number): UploadResult => ({
  // Servers before stored_name said it only in the text.
  storedName: typeof reply["stored_name"] === "string"
    ? reply["stored_name"]
    : /^File (.+) received successfully/s.exec(reply.message)?.[1] ?? "",
  extension: typeof reply["extension"] === "string" ? reply["extension"] : "",
  sha256: typeof reply["sha256"] === "string" ? reply["sha256"] : undefined,
  message: reply.message,
  size,
  reconnects: 0,
  resumedFrom: 0
})
