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

/**
 * `busy`: another connection still holds the upload; `unknown_upload`: the upload_id expired, start
 * over; `storage_unavailable`: the server kept the upload but cannot reach its store now, resume later;
 * `refused`: anything else, final.
 */
export type ErrorKind = "busy" | "unknown_upload" | "storage_unavailable" | "refused"

/** The reply's `code` as the server sent it (undefined from a server that sends none). */
export const serverCode = (reply: Reply): string | undefined => (typeof reply["code"] === "string" ? reply["code"] : undefined)

/** Decided on `code` when the reply has one; on the message's prefix only when it has none. */
export const errorKind = (reply: Reply): ErrorKind => {
  const code = serverCode(reply)
  if (code !== undefined) return code === "busy" || code === "unknown_upload" || code === "storage_unavailable" ? code : "refused"
  if (reply.message.startsWith(BUSY_PREFIX)) return "busy"
  if (reply.message.startsWith(UNKNOWN_UPLOAD_PREFIX)) return "unknown_upload"
  return "refused"
}

/** The server's `retry_after` (seconds) in milliseconds, when it sent a usable one. */
export const retryAfterMs = (reply: Reply): number | undefined => {
  const seconds = reply["retry_after"]
  return typeof seconds === "number" && Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined
}
