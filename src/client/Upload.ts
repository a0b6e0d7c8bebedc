/**
 * `upload(source, options)`: sends one file through the file-receiver
 * protocol and resolves with what the server stored. It negotiates from
 * `meta_received`: binary frames when `binary_chunks` is offered (base64 JSON
 * otherwise), a window of chunks in flight when the server acknowledges with
 * `received`, and a resume from the server's `offset` after a dropped
 * connection when it hands out an `upload_id` (against an older server it
 * starts over). One connection is `runAttempt` (Attempt.ts); this loop decides
 * what follows it: reconnect with backoff (bounded by count), wait out a busy
 * upload or a storage outage (bounded by time), start over, or give up.
 * Plain TypeScript on the standard WebSocket API: the page and
 * the Node CLI share it.
 */
import { ChecksumMismatchError, ConnectionFailedError, InvalidSourceError, ServerRefusedError, UploadCancelledError } from "./Errors.js"
import type { Hasher } from "./Sha256.js"
import { createSha256 } from "./Sha256.js"
import { discardOnServer } from "./Discard.js"
import { closeQuietly, openSocket, type WebSocketConstructor } from "./Socket.js"
import { type BlobLike, fromBlob, type UploadSource } from "./Source.js"
import { hashSource } from "./Bytes.js"
import { backoff, sleep } from "./Retry.js"
import { makeProgressMeter } from "./Progress.js"
import type { ReconnectInfo, UploadOptions, UploadResult } from "./Options.js"
import { type Attempt, runAttempt } from "./Attempt.js"

export type { UploadProgress } from "./Progress.js"
export type { ReconnectInfo, UploadOptions, UploadResult } from "./Options.js"

const DEFAULT_CHUNK = 256 * 1024
/**
 * How long a resume refused as busy is retried. The server frees an upload within two
 * heartbeats (30 s by default) of a link that died silently, which `retries` alone would not cover.
 */
const BUSY_PATIENCE_MS = 60_000
/** How long an upload suspended by a storage outage is resumed again, by default (`storagePatience`). */
const STORAGE_PATIENCE_MS = 10 * 60_000

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

  let uploadId: string | undefined = options.uploadId
  let reconnects = 0
  let failures = 0
  // The refusal being waited out (busy, storage), since when, and how many times in a row.
  let suspendedFor: { readonly kind: "busy" | "storage_unavailable"; readonly since: number; readonly inARow: number } | undefined
  const minDelay = options.minDelay ?? 250, maxDelay = options.maxDelay ?? 8000
  // The highest offset the source was told it may drop: a stream cannot be read before it again.
  let released = 0
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
      return { ...attempt.result, reconnects }
    }
    if (attempt._tag === "cancelled") return cancelled(attempt.discardSent)
    if (attempt._tag === "restart") {
      uploadId = undefined
      continue
    }
    let wait: ReconnectInfo
    if (attempt._tag === "suspended") {
      // The connection works and the server kept the upload: wait until it frees it, or its store answers again.
      suspendedFor = suspendedFor?.kind === attempt.kind && meter.acked() <= ackedBefore
        ? { ...suspendedFor, inARow: suspendedFor.inARow + 1 }
        : { kind: attempt.kind, since: Date.now(), inARow: 1 }
      const tries = failures + suspendedFor.inARow
      const delayMs = attempt.retryAfterMs ?? backoff(tries, minDelay, maxDelay)
      wait = attempt.kind === "busy"
        ? { attempt: tries, delayMs, reason: attempt.message, cause: "busy" }
        : { attempt: tries, delayMs, reason: `storage unavailable: ${attempt.message}`, cause: "storage_unavailable" }
      // By time rather than count: give up once the next try would come after the patience ran out.
      const patience = attempt.kind === "busy" ? BUSY_PATIENCE_MS : options.storagePatience ?? STORAGE_PATIENCE_MS
      if (Date.now() - suspendedFor.since + delayMs > patience) {
        if (attempt.kind === "storage_unavailable") throw new ServerRefusedError(attempt.message, "storage_unavailable")
        throw new ConnectionFailedError(`Gave up after ${BUSY_PATIENCE_MS / 1000} s: ${attempt.message}`, undefined)
      }
    } else {
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

const withToken = (url: string, token: string | undefined): string => {
  if (token === undefined || token === "") return url
  const parsed = new URL(url)
  parsed.searchParams.set("token", token)
  return parsed.toString()
}
