/**
 * Every refusal the server sends, and every close code: the one place that
 * holds their user-facing texts. Each function builds the `Refusal` (its
 * `code` and `message`) for one situation; everything else in the server
 * decides on the code. The texts are the wire contract (clients and tests
 * compare them), so change them only on purpose. Pure; no imports but the
 * Refusal type.
 */
import { make, type Refusal } from "./Refusal.js"

// ---------------------------------------------------------------------------
// Decoding a message

/** What a field of a client message must be, as the decoder names it after the field's path. */
export const FIELD_EXPECTATIONS = {
  byteCount: "expected a non-negative integer",
  uploadId: "expected the upload_id from meta_received",
  sha256: "expected 64 hexadecimal digits",
  fileName: "expected a non-empty string",
  chunk: "expected a base64 string",
  /** In place of Schema's "is missing". */
  required: "is required"
} as const

export const notAnObject = (): Refusal => make("invalid_message", "Invalid message: expected a JSON object")

export const typeRequired = (): Refusal =>
  make("invalid_message", "Invalid message: the type field is required (file_meta, file_chunk or cancel)")

/** `shown`: the start of the `type` the client sent, as JSON. */
export const unknownType = (shown: string): Refusal =>
  make("unknown_type", `Unknown message type: ${shown} (expected file_meta, file_chunk or cancel)`)

/** A field that is not what it must be: `path` is where (empty for the message itself), `expectation` what. */
export const invalidField = (path: string, expectation: string): Refusal =>
  make("invalid_message", path === "" ? `Invalid message: ${expectation}` : `${path}: ${expectation}`)

/** A message the decoder refused without naming an issue. */
export const invalidMessage = (): Refusal => make("invalid_message", "Invalid message")

// ---------------------------------------------------------------------------
// The upload protocol

const MiB = 1024 * 1024

/** A limit in the unit it was set in (FILE_MAX_SIZE is in MiB), with its bytes. */
const formatLimit = (bytes: number): string => (bytes % MiB === 0 ? `${bytes} bytes (${bytes / MiB} MiB)` : `${bytes} bytes`)

export const noUpload = (): Refusal => make("no_upload", "No upload in progress: send file_meta first")

export const invalidName = (): Refusal =>
  make("invalid_name", "Invalid file name: it needs a name and an extension (letters, digits, '.', '_' or '-'), like report.pdf")

export const nameTooLong = (maxBytes: number): Refusal => make("invalid_name", `Invalid file name: longer than ${maxBytes} bytes`)

export const invalidExtension = (extension: string, allowed: ReadonlyArray<string>): Refusal =>
  make("invalid_extension", `Invalid file extension: ${extension}. Allowed: ${allowed.join(", ")}`)

export const fileTooLarge = (size: number, limit: number): Refusal =>
  make("file_too_large", `File too large: ${size} bytes exceeds the limit of ${formatLimit(limit)}`)

export const chunkTooLarge = (size: number, limit: number): Refusal =>
  make("chunk_too_large", `Chunk too large: ${size} bytes exceeds the limit of ${limit} bytes per chunk`)

export const invalidBase64 = (): Refusal => make("invalid_base64", "Invalid base64 in chunk")

export const wrongOffset = (offset: number, received: number): Refusal =>
  make(
    "wrong_offset",
    `Chunk offset ${offset} is not where the upload is: the server has ${received} bytes; send the chunk at offset ${received}`
  )

export const exceedsSize = (size: number): Refusal =>
  make("exceeds_size", `Chunk exceeds the declared file size (${size} bytes); upload discarded`)

export const checksumMismatch = (actual: string, expected: string): Refusal =>
  make("checksum_mismatch", `Checksum mismatch: the received bytes have sha256 ${actual}, not ${expected}; upload discarded`)

/** A resume whose file_name or file_size is not that of the upload (`fileName`, `size`). */
export const resumeMismatch = (fileName: string, size: number): Refusal =>
  make(
    "resume_mismatch",
    `Cannot resume: upload_id belongs to ${JSON.stringify(fileName)} (${size} bytes); file_name and file_size must match`
  )

export const resumeDigestMismatch = (): Refusal =>
  make("resume_mismatch", "Cannot resume: sha256 differs from the one the upload started with")

/** A resume giving a sha256 for an upload completed without one (INTEGRITY=requested): it cannot be confirmed. */
export const resumeDigestUnknown = (): Refusal =>
  make("resume_mismatch", "Cannot resume: the upload was stored without a sha256, so the one given cannot be confirmed")

export const unknownUpload = (): Refusal => make("unknown_upload", "Unknown or expired upload_id: start a new upload without it")

/** Bytes that contradict the extension's signature. */
export const contentMismatch = (extension: string): Refusal =>
  make("content_mismatch", `File content does not match its extension .${extension}; upload discarded`)

/** A text file that is not UTF-8 or holds a NUL byte. */
export const notText = (extension: string): Refusal =>
  make(
    "content_mismatch",
    `File content does not match its extension .${extension}: expected UTF-8 text without NUL bytes; upload discarded`
  )

// ---------------------------------------------------------------------------
// Uploads and storage

export const busy = (): Refusal =>
  make("busy", "This upload is open on another connection; close that one first or wait for it to time out")

export const takenOver = (): Refusal =>
  make("taken_over", "This upload was taken over by another connection while this one was writing it; nothing was published")

/** The disk would be left with less than the minimum free after `bytes` more. */
export const noRoom = (bytes: number): Refusal =>
  make("insufficient_storage", `Not enough free disk space on the server for ${bytes} bytes; try again later`)

/** The disk filled up during a write. */
export const diskFull = (): Refusal =>
  make("disk_full", "The server ran out of disk space; the upload was discarded, please try again later")

/** A failed commit discarded the upload. */
export const storageFailed = (): Refusal =>
  make("storage_failed", "The server could not store the file; the upload was discarded, please try again")

/** The store or registry could not be reached: the upload is suspended, not lost. */
export const storageUnavailable = (): Refusal =>
  make(
    "storage_unavailable",
    "The server's storage is unavailable right now; the upload is kept with the bytes storage already holds: resume it with its upload_id in a moment"
  )

/** As {@link storageUnavailable}, for a new upload: nothing is held. */
export const storageUnavailableAtStart = (): Refusal =>
  make("storage_unavailable", "The server's storage is unavailable right now; nothing was stored: try again in a moment")

// ---------------------------------------------------------------------------
// Policy and limits

/** The pre-upload hook's refusal: `reason` is the hook's own text (see the two below for the server's). */
export const uploadRefused = (reason: string): Refusal => make("upload_refused", reason)

/** A hook that refuses without saying why. */
export const hookRefusedWithoutReason = (): Refusal => uploadRefused("Upload refused by the server's upload policy")

/** A hook that cannot be asked (the server fails closed). */
export const hookUnavailable = (): Refusal =>
  uploadRefused("Upload refused: the upload policy service did not answer; please try again later")

export const tooManyUploads = (limit: number): Refusal =>
  make(
    "too_many_uploads",
    `Too many unfinished uploads from this address (limit ${limit}); finish or cancel one, or wait for it to expire`
  )

/** Over the message rate limit; `retryAfter` in seconds. */
export const rateLimited = (retryAfter?: number): Refusal => make("rate_limited", "Rate limit exceeded", retryAfter)

/** Over the byte rate limit of `bytes` per `seconds`. */
export const bytesRateLimited = (bytes: number, seconds: number, retryAfter?: number): Refusal =>
  make("rate_limited", `Rate limit exceeded: more than ${bytes} bytes in ${seconds} seconds`, retryAfter)

export const tooManyFromClient = (limit: number): Refusal =>
  make("too_many_connections", `Too many connections from this address (limit ${limit}); close one or try again later`)

export const tooManyConnections = (): Refusal =>
  make("too_many_connections", "The server has too many connections; try again later")

export const idleTimeout = (seconds: number): Refusal =>
  make("idle_timeout", `Idle timeout: nothing received for ${seconds} seconds; closing the connection`)

export const uploadStalled = (seconds: number): Refusal =>
  make(
    "upload_stalled",
    `Upload stalled: nothing received for ${seconds} seconds; the upload was kept, resume it with its upload_id`
  )

export const internalError = (): Refusal => make("internal_error", "Internal server error: the message could not be handled")

// ---------------------------------------------------------------------------
// The HTTP transport (tus 1.0 and the IETF draft): what a request's headers get wrong

export const unsupportedTusVersion = (): Refusal =>
  make("invalid_message", "Unsupported or missing Tus-Resumable: this server speaks tus 1.0.0")

export const unsupportedInteropVersion = (): Refusal =>
  make("invalid_message", "Unsupported Upload-Draft-Interop-Version: this server speaks versions 5 and 6")

export const wrongContentType = (expected: string): Refusal =>
  make("invalid_message", `Wrong Content-Type: a request that appends bytes sends ${expected}`)

/** A header that is missing or not what it must be: `name` is the header, `expectation` what it must be. */
export const invalidHeader = (name: string, expectation: string): Refusal => make("invalid_message", `${name}: ${expectation}`)

export const lengthRequired = (): Refusal =>
  make("invalid_message", "Upload-Length is required: this server needs an upload's length when it is created")

export const unsupportedChecksum = (): Refusal =>
  make("invalid_message", "Unsupported Upload-Checksum algorithm: this server checks sha1 and sha256")

export const requestChecksumMismatch = (): Refusal =>
  make("checksum_mismatch", "Upload-Checksum does not match the request's body: its bytes were not stored")

export const checksumBodyTooLarge = (limit: number): Refusal =>
  make("chunk_too_large", `A request with Upload-Checksum carries at most ${limit} bytes (MAX_CHUNK_BYTES)`)

export const uploadComplete = (): Refusal => make("no_upload", "The upload is complete: it can no longer be changed or cancelled")

export const methodNotAllowed = (): Refusal => make("invalid_message", "Method not allowed here")

// ---------------------------------------------------------------------------
// Closing a connection

/** The WebSocket close codes the server uses, by why it closes. */
export const CLOSE_CODES = {
  /** Shutting down. */
  goingAway: 1001,
  /** Over the rate limit (after a `rate_limited` error). */
  policyViolation: 1008,
  /** A bug outside a frame's handling. */
  internalError: 1011,
  /** Over a connection limit (after a `too_many_connections` error). */
  tryAgainLater: 1013,
  /** Nothing received for IDLE_TIMEOUT. */
  idle: 4000,
  /** Nothing received for UPLOAD_STALL_TIMEOUT during an upload (it is suspended first). */
  stalled: 4001
} as const

/** The reason sent in the close frame with each of {@link CLOSE_CODES}. */
export const CLOSE_REASONS: Record<keyof typeof CLOSE_CODES, string> = {
  goingAway: "Server shutting down",
  policyViolation: "Rate limit exceeded",
  internalError: "Internal server error",
  tryAgainLater: "Too many connections",
  idle: "Idle timeout",
  stalled: "Upload stalled"
}
