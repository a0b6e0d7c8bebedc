/**
 * Waiting out a refusal that keeps the upload on the server: a resume still
 * held by the connection that dropped (`busy`), a storage outage, and the
 * server's own limits (`rate_limited`, `too_many_connections`). Each is waited
 * out by time rather than counted against `retries`: how long one wait is,
 * what `onReconnect` is told, and the error once the patience has run out.
 */
import type { SuspendedKind } from "./Attempt.js"
import { ConnectionFailedError, ServerRefusedError, type UploadError } from "./Errors.js"
import { formatDuration } from "./Format.js"
import type { ReconnectInfo, UploadOptions } from "./Options.js"
import { backoff } from "./Retry.js"

export interface Suspended {
  readonly kind: SuspendedKind
  readonly message: string
  readonly retryAfterMs: number | undefined
}

/**
 * How long a resume refused as busy is retried. The server frees an upload within two of its
 * heartbeats (HEARTBEAT_INTERVAL) once a link died silently, which `retries` alone would not cover.
 */
export const BUSY_PATIENCE_MS = 60_000
/** How long an upload suspended by a storage outage is resumed again, by default (`storagePatience`). */
export const STORAGE_PATIENCE_MS = 10 * 60_000
/** How long refusals by the server's limits are waited out without progress, by default (`limitPatience`). */
export const LIMIT_PATIENCE_MS = 10 * 60_000

/** A little more than the server's `retry_after`: its window must have passed when the next message arrives. */
const afterTheServersWindow = (ms: number) => ms + Math.max(250, ms * 0.02)

export const patienceFor = (kind: SuspendedKind, options: UploadOptions): number =>
  kind === "busy"
    ? BUSY_PATIENCE_MS
    : kind === "storage_unavailable"
    ? options.storagePatience ?? STORAGE_PATIENCE_MS
    : options.limitPatience ?? LIMIT_PATIENCE_MS

/** `23 s` for 23.46 s: the wait as people read it, never `0 s`. */
const seconds = (ms: number) => formatDuration(Math.max(1, Math.round(ms / 1000)))

/** The wait before the next try, the `tries`-th in a row without progress. */
export const waitFor = (suspended: Suspended, tries: number, minDelay: number, maxDelay: number): ReconnectInfo => {
  const { kind, message, retryAfterMs } = suspended
  const limited = kind === "rate_limited" || kind === "too_many_connections"
  const delayMs = retryAfterMs === undefined
    ? backoff(tries, minDelay, maxDelay)
    : limited
    ? Math.round(afterTheServersWindow(retryAfterMs))
    : retryAfterMs
  const reason = kind === "busy"
    ? message
    : kind === "storage_unavailable"
    ? `storage unavailable: ${message}`
    : kind === "rate_limited"
    ? `waiting ${seconds(delayMs)} for the rate limit`
    : `waiting ${seconds(delayMs)} for a free connection: ${message}`
  return { attempt: tries, delayMs, reason, cause: kind }
}

/** The error an upload ends with once waiting `delayMs` more would go past its patience. */
export const gaveUp = (suspended: Suspended, delayMs: number): UploadError => {
  switch (suspended.kind) {
    case "busy":
      return new ConnectionFailedError(`Gave up after ${BUSY_PATIENCE_MS / 1000} s: ${suspended.message}`, undefined)
    case "storage_unavailable":
      return new ServerRefusedError(suspended.message, "storage_unavailable")
    default:
      return new ServerRefusedError(`${suspended.message}; try again in ${seconds(delayMs)}`, suspended.kind)
  }
}
