/**
 * Why the server refuses something, as data. Every `error` reply carries a
 * refusal's `code` (stable, documented in the README's error codes, what clients
 * decide on) next to its `message` (for people; the original service's texts
 * where it had them). Every refusal, with its text, is built in Refusals.
 * Nothing in the server decides by comparing message texts.
 */

/** The stable codes of `error` replies. */
export const CODES = [
  /** The frame is not a JSON object of a known shape, or a field is wrong. */
  "invalid_message",
  /** `type` is not file_meta, file_chunk or cancel. */
  "unknown_type",
  /** A chunk or cancel while no upload is open. */
  "no_upload",
  /** The file name has no usable name or extension, or is too long. */
  "invalid_name",
  /** The extension is not in FILE_ALLOWED_EXTENSIONS. */
  "invalid_extension",
  /** `file_size` is over FILE_MAX_SIZE. */
  "file_too_large",
  /** A chunk over MAX_CHUNK_BYTES. */
  "chunk_too_large",
  /** A chunk whose base64 is not strict, padded, standard base64. */
  "invalid_base64",
  /** A chunk whose `offset` is not where the upload is (the message names the right one). */
  "wrong_offset",
  /** A chunk past `file_size` (the upload is discarded). */
  "exceeds_size",
  /** The stored bytes do not have the sha256 the client gave (discarded). */
  "checksum_mismatch",
  /** The bytes contradict the extension (CONTENT_CHECK; discarded). */
  "content_mismatch",
  /** The file would leave less than MIN_FREE_DISK_MB free. */
  "insufficient_storage",
  /** The disk filled up during the upload (discarded). */
  "disk_full",
  /** The store or registry cannot be reached: the upload is kept; resume it later. */
  "storage_unavailable",
  /** The store failed to publish the finished file (discarded). */
  "storage_failed",
  /** The upload_id is unknown, expired, or someone else's. */
  "unknown_upload",
  /** Another connection writes this upload right now. */
  "busy",
  /** Another connection took the upload over while this one wrote it. */
  "taken_over",
  /** A resume whose file_name, file_size or sha256 is not the upload's. */
  "resume_mismatch",
  /** Too many unfinished uploads from this address (MAX_UPLOADS_PER_IP). */
  "too_many_uploads",
  /** Too many connections (MAX_CONNECTIONS_PER_IP, MAX_CONNECTIONS); then close 1013. */
  "too_many_connections",
  /** The pre-upload hook said no. */
  "upload_refused",
  /** Over the rate limit (messages or bytes); then close 1008. */
  "rate_limited",
  /** Nothing received for IDLE_TIMEOUT; then close 4000. */
  "idle_timeout",
  /** Nothing received for UPLOAD_STALL_TIMEOUT during an upload (kept); then close 4001. */
  "upload_stalled",
  /** A bug in the server while handling the message. */
  "internal_error"
] as const

export type RefusalCode = (typeof CODES)[number]

export interface Refusal {
  readonly code: RefusalCode
  readonly message: string
  /** Seconds until trying again can succeed (`retry_after` in the reply), when the server knows. */
  readonly retryAfter?: number
}

export const make = (code: RefusalCode, message: string, retryAfter?: number): Refusal =>
  retryAfter === undefined ? { code, message } : { code, message, retryAfter }
