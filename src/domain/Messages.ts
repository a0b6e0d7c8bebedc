/**
 * The wire protocol's messages. Client messages are Schema definitions decoded
 * from JSON text; decoding failures become one short user-facing sentence.
 * Server replies are built here, with the exact fields and texts existing
 * clients expect (`type`, `message`, then any extra fields).
 */
import { Either, ParseResult, Schema } from "effect"

const nonNegativeInteger = "expected a non-negative integer"

/** A byte count: a non-negative safe integer (no fractions, no 1e300). */
export const ByteCount = Schema.Number.pipe(
  Schema.filter((n) => Number.isSafeInteger(n) && n >= 0),
  Schema.annotations({ message: () => ({ message: nonNegativeInteger, override: true }) })
)

/** An upload id as handed out in meta_received (base64url, at least 128 bits). */
export const UploadId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_-]{22,64}$/),
  Schema.annotations({ message: () => ({ message: "expected the upload_id from meta_received", override: true }) })
)

/** A SHA-256 digest in hexadecimal (either case; compared in lower case). */
export const Sha256Hex = Schema.String.pipe(
  Schema.pattern(/^[0-9a-fA-F]{64}$/),
  Schema.annotations({ message: () => ({ message: "expected 64 hexadecimal digits", override: true }) })
)

export const FileMeta = Schema.Struct({
  type: Schema.Literal("file_meta"),
  file_name: Schema.String.pipe(
    Schema.minLength(1),
    Schema.annotations({ message: () => ({ message: "expected a non-empty string", override: true }) })
  ),
  file_size: ByteCount,
  /** Resume this upload instead of starting a new one. */
  upload_id: Schema.optional(UploadId),
  /** The digest the stored file must have. */
  sha256: Schema.optional(Sha256Hex)
})
export type FileMeta = typeof FileMeta.Type

export const FileChunk = Schema.Struct({
  type: Schema.Literal("file_chunk"),
  chunk: Schema.String.annotations({ message: () => "expected a base64 string" }),
  /** Where this chunk belongs in the file; refused unless it is where the server is. */
  offset: Schema.optional(ByteCount)
})
export type FileChunk = typeof FileChunk.Type

/** Discards the upload in progress. */
export const Cancel = Schema.Struct({ type: Schema.Literal("cancel") })
export type Cancel = typeof Cancel.Type

export const ClientMessage = Schema.Union(FileMeta, FileChunk, Cancel)
export type ClientMessage = typeof ClientMessage.Type

const MessageType = Schema.Struct({ type: Schema.Literal("file_meta", "file_chunk", "cancel") })

const decodeClientMessage = Schema.decodeUnknownEither(ClientMessage, { errors: "first" })
const decodeMessageType = Schema.decodeUnknownEither(MessageType)

/** Formats the first issue of a parse error as `path: message`. */
const describe = (error: ParseResult.ParseError): string => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (issue === undefined) return "Invalid message"
  const path = issue.path.join(".")
  const message = issue.message === "is missing" ? "is required" : issue.message
  return path === "" ? `Invalid message: ${message}` : `${path}: ${message}`
}

const CHUNK_PREFIX = Buffer.from(`{"type":"file_chunk","chunk":"`, "latin1")
const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * The fast path for the message that carries the bytes: a frame that is
 * exactly `{"type":"file_chunk","chunk":"<text without quotes or escapes>"}`
 * (what JSON.stringify produces) is the FileChunk message with that text,
 * read straight from the frame without JSON.parse or Schema. Anything else
 * returns undefined and takes the general path; both give the same result.
 */
const fastChunk = (frame: Buffer): FileChunk | undefined => {
  const end = frame.length - 2
  if (
    end < CHUNK_PREFIX.length ||
    frame[end] !== QUOTE ||
    frame[end + 1] !== 0x7d || // "}"
    frame.compare(CHUNK_PREFIX, 0, CHUNK_PREFIX.length, 0, CHUNK_PREFIX.length) !== 0 ||
    frame.indexOf(QUOTE, CHUNK_PREFIX.length) !== end ||
    frame.indexOf(BACKSLASH, CHUNK_PREFIX.length) !== -1
  ) {
    return undefined
  }
  return { type: "file_chunk", chunk: frame.toString("latin1", CHUNK_PREFIX.length, end) }
}

/**
 * Decodes one text frame (UTF-8 bytes, as validated by the WebSocket layer).
 * Fails with a sentence fit for an `error` reply, e.g.
 * `file_size: expected a non-negative integer`.
 */
export const decodeFrame = (frame: Buffer): Either.Either<ClientMessage, string> => {
  const chunk = fastChunk(frame)
  return chunk === undefined ? decodeText(frame.toString("utf8")) : Either.right(chunk)
}

/** Decodes one text message, as {@link decodeFrame} does. */
export const decodeText = (text: string): Either.Either<ClientMessage, string> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return Either.left("Invalid message: expected a JSON object")
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return Either.left("Invalid message: expected a JSON object")
  }
  const decoded = decodeClientMessage(json)
  if (Either.isRight(decoded)) return Either.right(decoded.right)
  // Say which type was wrong before which field: only then is a field error meaningful.
  if (Either.isLeft(decodeMessageType(json))) {
    const type = (json as { readonly type?: unknown }).type
    return Either.left(
      type === undefined
        ? "Invalid message: the type field is required (file_meta, file_chunk or cancel)"
        : `Unknown message type: ${JSON.stringify(type).slice(0, 64)} (expected file_meta, file_chunk or cancel)`
    )
  }
  return Either.left(describe(decoded.left))
}

// ---------------------------------------------------------------------------
// Server replies

/** A reply frame as sent on the wire. */
export type Reply = string

/**
 * meta_received. The fields after `message` are for newer clients (older
 * ones ignore them): what this server accepts, the id to resume this upload
 * with, and the offset to continue from.
 */
export const metaReceived = (fields: {
  readonly maxChunkBytes: number
  readonly uploadId: string
  readonly offset: number
}): Reply =>
  JSON.stringify({
    type: "meta_received",
    message: "Ready to receive file",
    max_chunk_bytes: fields.maxChunkBytes,
    binary_chunks: true,
    upload_id: fields.uploadId,
    offset: fields.offset
  })

/** chunk_received, with the number of bytes stored so far. */
export const chunkReceived = (received: number): Reply =>
  `{"type":"chunk_received","message":"Ready for next chunk","received":${received}}`

export const fileReceived = (storedName: string, extension: string, sha256: string): Reply =>
  JSON.stringify({
    type: "file_received",
    message: `File ${storedName} received successfully and file extension is \`${extension}\``,
    extension,
    sha256
  })

/** The answer to `cancel`. */
export const uploadCancelled: Reply = JSON.stringify({ type: "upload_cancelled", message: "Upload cancelled and discarded" })

export const error = (message: string): Reply => JSON.stringify({ type: "error", message })

export const RATE_LIMIT_EXCEEDED = "Rate limit exceeded"
