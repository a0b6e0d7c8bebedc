/**
 * What an `error` reply from the server means to the client. A server sends a
 * machine-readable `code` next to its `message`, and the client decides on
 * that; only a reply without one (an older server) is read by its text, here
 * and nowhere else.
 */
import type { Reply } from "./Socket.js"

/** An older server's text for a resume of an upload another connection still holds (it frees it soon). */
export const BUSY_PREFIX = "This upload is open on another connection"
/** An older server's text for a resume of an upload it no longer knows (expired or never opened). */
export const UNKNOWN_UPLOAD_PREFIX = "Unknown or expired upload_id"
/** An older server's text for a message over its rate limit (the message or the byte limit). */
export const RATE_LIMITED_PREFIX = "Rate limit exceeded"
/** An older server's texts for a connection over its connection limits (per address, in all). */
export const TOO_MANY_CONNECTIONS_PREFIXES = ["Too many connections", "The server has too many connections"]

/**
 * `busy`: another connection still holds the upload; `unknown_upload`: the upload_id expired, start
 * over; `storage_unavailable`: the server kept the upload but cannot reach its store now, resume later;
 * `rate_limited`, `too_many_connections`: the server closes this connection, resume after `retry_after`;
 * `refused`: anything else, final.
 */
export type ErrorKind = "busy" | "unknown_upload" | "storage_unavailable" | "rate_limited" | "too_many_connections" | "refused"

const WAITED_OUT: ReadonlySet<string> = new Set(["busy", "unknown_upload", "storage_unavailable", "rate_limited", "too_many_connections"])

/** The reply's `code` as the server sent it (undefined from a server that sends none). */
export const serverCode = (reply: Reply): string | undefined => (typeof reply["code"] === "string" ? reply["code"] : undefined)

/** Decided on `code` when the reply has one; on the message's prefix only when it has none. */
export const errorKind = (reply: Reply): ErrorKind => {
  const code = serverCode(reply)
  if (code !== undefined) return WAITED_OUT.has(code) ? code as ErrorKind : "refused"
  if (reply.message.startsWith(BUSY_PREFIX)) return "busy"
  if (reply.message.startsWith(UNKNOWN_UPLOAD_PREFIX)) return "unknown_upload"
  if (reply.message.startsWith(RATE_LIMITED_PREFIX)) return "rate_limited"
  if (TOO_MANY_CONNECTIONS_PREFIXES.some((prefix) => reply.message.startsWith(prefix))) return "too_many_connections"
  return "refused"
}

/** The server's `retry_after` (seconds) in milliseconds, when it sent a usable one. */
export const retryAfterMs = (reply: Reply): number | undefined => {
  const seconds = reply["retry_after"]
  return typeof seconds === "number" && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined
}
