/**
 * `upload(source, options)`: sends one file through the file-receiver
 * protocol and resolves with what the server stored. It negotiates from
 * `meta_received`: binary frames when `binary_chunks` is offered (base64 JSON
 * otherwise), a window of chunks in flight when the server acknowledges with
 * `received`, and a resume from the server's `offset` after a dropped
 * connection when it hands out an `upload_id` (against an older server it
 * starts over). Plain TypeScript on the standard WebSocket API: the page and
 * the Node CLI share it.
 */
import { ChecksumMismatchError, ConnectionFailedError, InvalidSourceError, ServerRefusedError, UploadCancelledError } from "./Errors.js"
import type { Hasher } from "./Sha256.js"
import { createSha256 } from "./Sha256.js"
import { BUSY_PREFIX, discardOnServer } from "./Discard.js"
import { closeQuietly, type EventSocket, openSocket, type Reply, type WebSocketConstructor, withReplyTimeout } from "./Socket.js"
import { type BlobLike, fromBlob, type UploadSource } from "./Source.js"
import { hashSource, toBase64 } from "./Bytes.js"
import { backoff, sleep } from "./Retry.js"
import { makeProgressMeter, type ProgressMeter } from "./Progress.js"
import type { UploadOptions, UploadResult } from "./Options.js"

export type { UploadProgress } from "./Progress.js"
export type { ReconnectInfo, UploadOptions, UploadResult } from "./Options.js"

const UNKNOWN_UPLOAD_PREFIX = "Unknown or expired upload_id"
const DEFAULT_CHUNK = 256 * 1024
/**
 * How long a resume refused as busy is retried. The server frees an upload within two
 * heartbeats (30 s by default) of a link that died silently, which `retries` alone would not cover.
 */
const BUSY_PATIENCE_MS = 60_000

type Attempt =
  | { readonly _tag: "done"; readonly result: UploadResult }
  /** Aborted; `discardSent` when `cancel` already went out on this connection. */
  | { readonly _tag: "cancelled"; readonly discardSent: boolean }
  /** `busy`: the server still holds the upload for the connection that dropped. */
  | { readonly _tag: "dropped"; readonly reason: string; readonly code: number | undefined; readonly busy?: true }
  | { readonly _tag: "restart" }

/** Uploads a File/Blob or an UploadSource; rejects with an UploadError subclass. */
export const upload = async (input: UploadSource | (BlobLike & { readonly name?: string }), options: UploadOptions): Promise<UploadResult> => {
  const source: UploadSource = "read" in input ? input : fromBlob(input)
  const WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (WebSocket === undefined) throw new InvalidSourceError("No WebSocket implementation: pass options.WebSocket")
  const signal = options.signal
  if (signal?.aborted) throw new UploadCancelledError()
  let url: string
  try {
    // Relative to the page in a browser, as the WebSocket constructor resolves it.
    const base = (globalThis as { location?: { href: string } }).location?.href
    url = withToken(new URL(options.url, base).toString(), options.token)
  } catch {
    // Not worth a retry: no reconnection can fix a malformed address.
    throw new ConnectionFailedError(`Invalid URL: ${options.url}`, undefined)
  }
  const meter = makeProgressMeter(source.size, options.onProgress)
  const makeHasher = options.createSha256 ?? createSha256

  let declaredSha256 = typeof options.sha256 === "string" ? options.sha256.toLowerCase() : undefined
  // A stream is hashed as it is first read, and checked against file_received.
  let streamHash: { hasher: Hasher; upTo: number } | undefined
  if (options.sha256 === true && source.randomAccess) {
    declaredSha256 = await hashSource(source, makeHasher(), (bytes) => meter.hashing(bytes), signal)
  } else if (options.sha256 === true) {
    streamHash = { hasher: makeHasher(), upTo: 0 }
  }
  const read = async (start: number, end: number) => {
    const bytes = await source.read(start, end).catch((error: unknown) => {
      throw error instanceof InvalidSourceError ? error : new InvalidSourceError(`Could not read ${source.name}: ${String(error)}`)
    })
    if (streamHash !== undefined && start <= streamHash.upTo && end > streamHash.upTo) {
      streamHash.hasher.update(bytes.subarray(streamHash.upTo - start))
      streamHash.upTo = end
    }
    return bytes
  }

  let uploadId: string | undefined
  let reconnects = 0
  let failures = 0
  let busySince: number | undefined
  let busyInARow = 0
  // Cancelled with no connection open (hashing, backoff, connecting): the server still holds the upload.
  const cancelled = async (discardSent: boolean): Promise<never> => {
    if (!discardSent && uploadId !== undefined) await discardOnServer(WebSocket, url, source, uploadId)
    throw new UploadCancelledError()
  }
  for (;;) {
    // An abort during hashing or a read may have fired before this attempt's listener exists.
    if (signal?.aborted) return cancelled(false)
    const ackedBefore = meter.acked()
    const events = openSocket(WebSocket, url)
    const onAbort = () => events.push({ _tag: "abort" })
    signal?.addEventListener("abort", onAbort)
    let attempt: Attempt
    try {
      attempt = await runAttempt(events, {
        source,
        read,
        uploadId,
        sha256: declaredSha256,
        chunkBytes: options.chunkBytes ?? DEFAULT_CHUNK,
        window: Math.max(1, options.window ?? 8),
        replyTimeout: options.replyTimeout ?? 60_000,
        meter,
        setUploadId: (id) => (uploadId = id)
      })
    } finally {
      signal?.removeEventListener("abort", onAbort)
      closeQuietly(events.socket)
    }
    if (attempt._tag === "done") {
      const expected = declaredSha256 ?? streamHash?.hasher.digestHex()
      const actual = attempt.result.sha256
      if (expected !== undefined && actual !== undefined && actual.toLowerCase() !== expected) {
        throw new ChecksumMismatchError(expected, actual)
      }
      return { ...attempt.result, reconnects }
    }
    if (attempt._tag === "cancelled") return cancelled(attempt.discardSent)
    if (attempt._tag === "restart") {
      uploadId = undefined
      continue
    }
    if (attempt.busy) {
      // The connection works and the server kept the upload: wait for it to free it, by time rather than count.
      busySince ??= Date.now()
      busyInARow++
      if (Date.now() - busySince > BUSY_PATIENCE_MS) {
        throw new ConnectionFailedError(`Gave up after ${BUSY_PATIENCE_MS / 1000} s: ${attempt.reason}`, undefined)
      }
    } else {
      busySince = undefined
      busyInARow = 0
      failures = meter.acked() > ackedBefore ? 1 : failures + 1
      if (failures > (options.retries ?? 6)) {
        throw new ConnectionFailedError(`Gave up after ${failures} failed connections: ${attempt.reason}`, attempt.code)
      }
    }
    const delayMs = backoff(failures + busyInARow, options.minDelay ?? 250, options.maxDelay ?? 8000)
    options.onReconnect?.({ attempt: failures + busyInARow, delayMs, reason: attempt.reason })
    meter.reconnecting()
    await sleep(delayMs, signal).catch(() => cancelled(false))
    reconnects++
  }
}

interface AttemptContext {
  readonly source: UploadSource
  readonly read: (start: number, end: number) => Promise<Uint8Array>
  readonly uploadId: string | undefined
  readonly sha256: string | undefined
  readonly chunkBytes: number
  readonly window: number
  readonly replyTimeout: number
  readonly meter: ProgressMeter
  readonly setUploadId: (id: string) => void
}

/** One connection: announce, resume from the server's offset, send with a window, until done or dropped. */
const runAttempt = async (socketEvents: EventSocket, ctx: AttemptContext): Promise<Attempt> => {
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
    socket.send(JSON.stringify({ type: "cancel" }))
    return { _tag: "cancelled", discardSent: true }
  }
  if (answer._tag !== "reply") return dropped(answer, "connection lost")
  const meta = answer.reply
  if (meta.type === "error") {
    if (meta.message.startsWith(BUSY_PREFIX)) return { _tag: "dropped", reason: meta.message, code: undefined, busy: true }
    if (meta.message.startsWith(UNKNOWN_UPLOAD_PREFIX)) return { _tag: "restart" }
    throw new ServerRefusedError(meta.message)
  }
  if (meta.type !== "meta_received") throw new ServerRefusedError(`Unexpected reply to file_meta: ${meta.type}`)

  // Negotiation: an older server sends none of these fields, and gets base64, stop-and-wait, no resume.
  const resumable = typeof meta["upload_id"] === "string"
  if (resumable) ctx.setUploadId(meta["upload_id"] as string)
  const binary = meta["binary_chunks"] === true
  const serverMax = typeof meta["max_chunk_bytes"] === "number" ? meta["max_chunk_bytes"] : Infinity
  const chunkBytes = Math.max(1, Math.min(ctx.chunkBytes, serverMax))
  const window = resumable ? ctx.window : 1
  const offset = resumable && typeof meta["offset"] === "number" ? meta["offset"] : 0
  meter.resumeAt(offset)
  source.release?.(offset)

  let next = offset
  const inFlight: Array<number> = [] // end offsets of chunks sent, oldest first
  for (;;) {
    while (inFlight.length < window && next < source.size) {
      const end = Math.min(next + chunkBytes, source.size)
      const bytes = await ctx.read(next, end).catch((error: unknown) => {
        // The file cannot be sent: have the server drop what it holds rather than keep it for a resume.
        if (resumable && socket.readyState === 1) socket.send(JSON.stringify({ type: "cancel" }))
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
          socket.send(JSON.stringify({ type: "cancel" }))
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
        source.release?.(received)
        meter.acknowledged(received)
        break
      }
      case "file_received":
        meter.acknowledged(source.size)
        return { _tag: "done", result: resultOf(reply, source.size) }
      case "error":
        // Giving up: an upload the server kept after this error would otherwise wait a day for a resume that never comes.
        if (resumable && socket.readyState === 1) socket.send(JSON.stringify({ type: "cancel" }))
        throw new ServerRefusedError(reply.message)
    }
  }
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

const withToken = (url: string, token: string | undefined): string => {
  if (token === undefined || token === "") return url
  const parsed = new URL(url)
  parsed.searchParams.set("token", token)
  return parsed.toString()
}
