/**
 * `upload(source, options)`: sends one file through the file-receiver
 * protocol and resolves with what the server stored. It negotiates from
 * `meta_received`: binary frames when `binary_chunks` is offered (base64 JSON
 * otherwise), a window of chunks in flight when the server acknowledges with
 * `received`, and a resume from the server's `offset` after a dropped
 * connection when it hands out an `upload_id` (against an older server it
 * starts over). One connection is `runAttempt` (Attempt.ts); this loop decides
 * what follows it: reconnect with backoff (bounded by count), wait out a busy
 * upload, a storage outage or the server's limits (bounded by time,
 * Suspension.ts), start over, or give up, at once for a handshake no retry
 * heals (Handshake.ts). Messages are paced under the server's announced rate
 * limit (Pacer.ts). Plain TypeScript on the standard WebSocket API: the page
 * and the Node CLI share it.
 */
import { ChecksumMismatchError, ConnectionFailedError, type HandshakeRefusedError, InvalidSourceError, UploadCancelledError } from "./Errors.js"
import type { Hasher } from "./Sha256.js"
import { createSha256 } from "./Sha256.js"
import { discardOnServer } from "./Discard.js"
import { closeQuietly, openSocket, type WebSocketConstructor } from "./Socket.js"
import { type BlobLike, fromBlob, type UploadSource } from "./Source.js"
import { hashSource } from "./Bytes.js"
import { formatDuration } from "./Format.js"
import { diagnose, refusal } from "./Handshake.js"
import { pacerFor } from "./Pacer.js"
import { backoff, sleep } from "./Retry.js"
import { makeProgressMeter } from "./Progress.js"
import type { ReconnectInfo, UploadOptions, UploadResult } from "./Options.js"
import { type Attempt, runAttempt, type SuspendedKind } from "./Attempt.js"
import { gaveUp, patienceFor, waitFor } from "./Suspension.js"

export type { UploadProgress } from "./Progress.js"
export type { ReconnectInfo, UploadOptions, UploadResult } from "./Options.js"

/** Pacing waits shorter than this are not reported through `onWait`. */
const REPORTED_WAIT_MS = 1000

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
    url = withToken(toWebSocketUrl(new URL(options.url, base)), options.token)
  } catch {
    // Not worth a retry: no reconnection can fix a malformed address.
    throw new ConnectionFailedError(`Invalid URL: ${options.url}`, undefined)
  }
  const tokenGiven = new URL(url).searchParams.has("token")
  const pacer = pacerFor(url)
  const keepOnAbort = options.keepOnAbort === true
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

  let uploadId: string | undefined = options.uploadId
  let reconnects = 0
  let failures = 0
  // The bytes the server held when it first answered (resuming an earlier run's upload).
  let resumedFrom: number | undefined
  // The refusal being waited out (busy, storage, limits), since when, and how many times in a row.
  let suspendedFor: { readonly kind: SuspendedKind; readonly since: number; readonly inARow: number } | undefined
  // The last handshake failed while the server's /config.json answered (browsers: the status is hidden).
  let refusedWhileUp = false
  const minDelay = options.minDelay ?? 250, maxDelay = options.maxDelay ?? 8000
  // The highest offset the source was told it may drop: a stream cannot be read before it again.
  let released = 0
  // Cancelled with no connection open (hashing, backoff, connecting): the server still holds the upload.
  const cancelled = async (discardSent: boolean): Promise<never> => {
    if (!keepOnAbort && !discardSent && uploadId !== undefined) await discardOnServer(WebSocket, url, source, uploadId)
    throw new UploadCancelledError(keepOnAbort ? uploadId : undefined)
  }
  /** The error for a handshake no retry heals; undefined when it is worth retrying. */
  const refusedHandshake = async (handshake: { readonly status: number | undefined; readonly reported: boolean }) => {
    if (handshake.status !== undefined) return refusal(handshake.status, tokenGiven)
    if (handshake.reported) return undefined // no HTTP answer at all: refused, reset, unresolvable
    const diagnosis = await diagnose(url, { tokenGiven, refusedBefore: refusedWhileUp, signal })
    refusedWhileUp = diagnosis._tag === "unclear"
    return diagnosis._tag === "refused" ? diagnosis.error : undefined
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
        chunkBytes: options.chunkBytes,
        window: options.window === undefined ? undefined : Math.max(1, options.window),
        replyTimeout: options.replyTimeout ?? 60_000,
        meter,
        pacer,
        onWait: (delayMs) => {
          if (delayMs >= REPORTED_WAIT_MS) options.onWait?.({ delayMs, reason: `waiting ${formatDuration(Math.round(delayMs / 1000))} for the rate limit` })
        },
        signal,
        keepOnAbort,
        answered: (offset) => void (resumedFrom ??= offset),
        setUploadId: (id) => {
          uploadId = id
          options.onUploadId?.(id)
        },
        release: (offset) => {
          if (source.release === undefined) return
          source.release(offset)
          released = Math.max(released, offset)
        },
        released: () => released
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
      return { ...attempt.result, reconnects, resumedFrom: resumedFrom ?? 0 }
    }
    if (attempt._tag === "cancelled") return cancelled(attempt.discardSent)
    if (attempt._tag === "restart") {
      uploadId = undefined
      continue
    }
    let wait: ReconnectInfo
    if (attempt._tag === "suspended") {
      refusedWhileUp = false
      // The connection works and the server kept the upload: wait until it frees it, its store answers, or its limits let us in.
      suspendedFor = suspendedFor?.kind === attempt.kind && meter.acked() <= ackedBefore
        ? { ...suspendedFor, inARow: suspendedFor.inARow + 1 }
        : { kind: attempt.kind, since: Date.now(), inARow: 1 }
      wait = waitFor(attempt, failures + suspendedFor.inARow, minDelay, maxDelay)
      // By time rather than count: give up once the next try would come after the patience ran out.
      if (Date.now() - suspendedFor.since + wait.delayMs > patienceFor(attempt.kind, options)) throw gaveUp(attempt, wait.delayMs)
      // Every upload to this server waits: the server counts the client's messages over all its connections.
      if (attempt.kind === "rate_limited") pacer.refusedUntil(Date.now() + wait.delayMs)
    } else {
      if (attempt.handshake === undefined) refusedWhileUp = false
      else {
        const refused: HandshakeRefusedError | undefined = await refusedHandshake(attempt.handshake)
        if (refused !== undefined) throw refused
      }
      suspendedFor = undefined
      failures = meter.acked() > ackedBefore ? 1 : failures + 1
      if (failures > (options.retries ?? 6)) {
        throw new ConnectionFailedError(`Gave up after ${failures} failed connections: ${attempt.reason}`, attempt.code)
      }
      wait = { attempt: failures, delayMs: backoff(failures, minDelay, maxDelay), reason: attempt.reason, cause: "connection" }
    }
    // Progress first: a caller's reconnect note then stays on screen rather than under "reconnecting".
    meter.reconnecting()
    options.onReconnect?.(wait)
    await sleep(wait.delayMs, signal).catch(() => cancelled(false))
    reconnects++
  }
}

/** `http(s)://` as the WebSocket it serves, `ws(s)://` as it is. */
const toWebSocketUrl = (url: URL): string => {
  if (url.protocol === "http:") url.protocol = "ws:"
  else if (url.protocol === "https:") url.protocol = "wss:"
  return url.toString()
}

const withToken = (url: string, token: string | undefined): string => {
  if (token === undefined || token === "") return url
  const parsed = new URL(url)
  parsed.searchParams.set("token", token)
  return parsed.toString()
}
