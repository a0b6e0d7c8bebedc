/**
 * The wire protocol's messages. Client messages are Schema definitions decoded
 * from JSON text (the usual file_chunk is decoded in place, to its bytes: see
 * `decodeFrame`); decoding failures become one short user-facing sentence.
 * Server replies are built here, with the exact fields and texts existing
 * clients expect (`type`, `message`, then any extra fields).
 */
import { Either, ParseResult, Schema } from "effect"
import * as Base64 from "./Base64.js"
import type * as Refusal from "./Refusal.js"
import * as Refusals from "./Refusals.js"

const expected = Refusals.FIELD_EXPECTATIONS

/** A byte count: a non-negative safe integer (no fractions, no 1e300). */
export const ByteCount = Schema.Number.pipe(
  Schema.filter((n) => Number.isSafeInteger(n) && n >= 0),
  Schema.annotations({ message: () => ({ message: expected.byteCount, override: true }) })
)

/** An upload id as handed out in meta_received (base64url, at least 128 bits). */
export const UploadId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_-]{22,64}$/),
  Schema.annotations({ message: () => ({ message: expected.uploadId, override: true }) })
)

/** A SHA-256 digest in hexadecimal (either case; compared in lower case). */
export const Sha256Hex = Schema.String.pipe(
  Schema.pattern(/^[0-9a-fA-F]{64}$/),
  Schema.annotations({ message: () => ({ message: expected.sha256, override: true }) })
)

export const FileMeta = Schema.Struct({
  type: Schema.Literal("file_meta"),
  file_name: Schema.String.pipe(
    Schema.minLength(1),
    Schema.annotations({ message: () => ({ message: expected.fileName, override: true }) })
  ),
  file_size: ByteCount,
  /** Resume this upload instead of starting a new one. */
  upload_id: Schema.optional(UploadId),
  /** The digest the stored file must have. */
  sha256: Schema.optional(Sha256Hex),
  /** The file's media type as the client says it (e.g. a browser's File.type): kept for events, never checked. */
  file_type: Schema.optional(Schema.String.pipe(Schema.maxLength(255)))
})
export type FileMeta = typeof FileMeta.Type

export const FileChunk = Schema.Struct({
  type: Schema.Literal("file_chunk"),
  chunk: Schema.String.annotations({ message: () => expected.chunk }),
  /** Where this chunk belongs in the file; refused unless it is where the server is. */
  offset: Schema.optional(ByteCount)
})
export type FileChunk = typeof FileChunk.Type

/** Discards the upload in progress. */
export const Cancel = Schema.Struct({ type: Schema.Literal("cancel") })
export type Cancel = typeof Cancel.Type

export const ClientMessage = Schema.Union(FileMeta, FileChunk, Cancel)
export type ClientMessage = typeof ClientMessage.Type

/**
 * One decoder per message type, picked by `type` before any Schema runs: the
 * union's own lookup of the type, `String(input.type)`, throws on an object
 * with a `toString` or `valueOf` key (`{"type":{"toString":null}}`) and
 * overflows the stack on a deeply nested array.
 */
const decoders: Record<ClientMessage["type"], (input: unknown) => Either.Either<ClientMessage, ParseResult.ParseError>> = {
  file_meta: Schema.decodeUnknownEither(FileMeta, { errors: "first" }),
  file_chunk: Schema.decodeUnknownEither(FileChunk, { errors: "first" }),
  cancel: Schema.decodeUnknownEither(Cancel, { errors: "first" })
}

const isMessageType = (type: unknown): type is ClientMessage["type"] =>
  type === "file_meta" || type === "file_chunk" || type === "cancel"

/**
 * The first `limit` characters of `JSON.stringify(value)` for a value from
 * JSON.parse, written without stringifying the rest: JSON.stringify would
 * overflow the stack on a deeply nested value (and copy a huge one whole).
 */
const jsonPrefix = (value: unknown, limit: number): string => {
  let text = ""
  const write = (part: string) => {
    text += part
    return text.length < limit
  }
  // Each level writes at least one character, so this returns before it is `limit` levels deep.
  const go = (item: unknown): boolean => {
    if (Array.isArray(item)) {
      if (!write("[")) return false
      for (let index = 0; index < item.length; index++) {
        if ((index > 0 && !write(",")) || !go(item[index])) return false
      }
      return write("]")
    }
    if (typeof item === "object" && item !== null) {
      if (!write("{")) return false
      let first = true
      for (const [key, field] of Object.entries(item)) {
        if ((!first && !write(",")) || !write(`${JSON.stringify(key)}:`) || !go(field)) return false
        first = false
      }
      return write("}")
    }
    // A string, number, boolean or null: JSON.stringify is total on them.
    return write(JSON.stringify(item))
  }
  go(value)
  return text.slice(0, limit)
}

/** The refusal for the first issue of a parse error: its path and what was expected there. */
const describe = (error: ParseResult.ParseError): Refusal.Refusal => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (issue === undefined) return Refusals.invalidMessage()
  return Refusals.invalidField(issue.path.join("."), issue._tag === "Missing" ? expected.required : issue.message)
}

/**
 * A chunk's bytes, already decoded: a binary frame, or a `file_chunk` decoded
 * in place by {@link decodeFrame}, with the `offset` it carried, if any.
 */
export interface ChunkBytes {
  readonly type: "chunk_bytes"
  readonly bytes: Uint8Array
  readonly offset?: number
}

const CHUNK_PREFIX = Buffer.from(`{"type":"file_chunk","chunk":"`, "latin1")
const OFFSET_FIELD = Buffer.from(`","offset":`, "latin1")
const QUOTE = 0x22
const CLOSING_BRACE = 0x7d

/**
 * The integer written in `frame` from `start` to `end` as JSON.stringify writes
 * a safe integer (digits, no leading zero, at most 15 of them), else undefined.
 */
const canonicalInteger = (frame: Buffer, start: number, end: number): number | undefined => {
  const digits = end - start
  if (digits < 1 || digits > 15 || (digits > 1 && frame[start] === 0x30)) return undefined
  let value = 0
  for (let index = start; index < end; index++) {
    const digit = (frame[index] ?? 0) - 0x30
    if (digit < 0 || digit > 9) return undefined
    value = value * 10 + digit
  }
  return value
}

/**
 * The fast path for the message that carries the bytes: a frame that is
 * exactly `{"type":"file_chunk","chunk":"<base64>"}`, optionally followed by
 * `,"offset":<integer>` (what JSON.stringify produces), whose text is strict
 * base64, is decoded in place: no JSON.parse, no Schema, and no string of the
 * whole chunk. Anything else (other spacing or order, escapes, invalid base64)
 * returns undefined and takes the general path. Valid base64 holds no quote,
 * backslash or control character, so such a frame is a valid `file_chunk` and
 * the general path would decode the same bytes and offset.
 */
const fastChunk = (frame: Buffer): ChunkBytes | undefined => {
  const start = CHUNK_PREFIX.length
  const last = frame.length - 1
  if (last <= start || frame[last] !== CLOSING_BRACE || frame.compare(CHUNK_PREFIX, 0, start, 0, start) !== 0) {
    return undefined
  }
  const close = frame.indexOf(QUOTE, start)
  let offset: number | undefined
  if (close !== last - 1) {
    const digits = close + OFFSET_FIELD.length
    if (close === -1 || digits >= last || frame.compare(OFFSET_FIELD, 0, OFFSET_FIELD.length, close, digits) !== 0) {
      return undefined
    }
    offset = canonicalInteger(frame, digits, last)
    if (offset === undefined) return undefined
  }
  const bytes = Base64.decodeStrictAscii(frame.subarray(start, close))
  if (bytes === undefined) return undefined
  return offset === undefined ? { type: "chunk_bytes", bytes } : { type: "chunk_bytes", bytes, offset }
}

/**
 * Decodes one text frame (UTF-8 bytes, as validated by the WebSocket layer).
 * Fails with the refusal for an `error` reply, e.g. `invalid_message`:
 * `file_size: expected a non-negative integer`.
 */
export const decodeFrame = (frame: Buffer): Either.Either<ClientMessage | ChunkBytes, Refusal.Refusal> => {
  const chunk = fastChunk(frame)
  return chunk === undefined ? decodeText(frame.toString("utf8")) : Either.right(chunk)
}

/**
 * Decodes one text message with JSON.parse and Schema: the general path of
 * {@link decodeFrame}, which leads to the same protocol step for any text.
 */
export const decodeText = (text: string): Either.Either<ClientMessage, Refusal.Refusal> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return Either.left(Refusals.notAnObject())
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return Either.left(Refusals.notAnObject())
  }
  // Say which type was wrong before which field: only then is a field error meaningful.
  const type = (json as { readonly type?: unknown }).type
  if (!isMessageType(type)) {
    return Either.left(
      type === undefined ? Refusals.typeRequired() : Refusals.unknownType(jsonPrefix(type, 64))
    )
  }
  return Either.mapLeft(decoders[type](json), describe)
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
  /** The limits this client's messages are counted against (every message counts, on every connection of its address). */
  readonly rateLimit: { readonly messages: number; readonly periodSeconds: number; readonly bytes?: number | undefined }
}): Reply =>
  JSON.stringify({
    type: "meta_received",
    message: "Ready to receive file",
    max_chunk_bytes: fields.maxChunkBytes,
    binary_chunks: true,
    upload_id: fields.uploadId,
    offset: fields.offset,
    rate_limit: {
      messages: fields.rateLimit.messages,
      period_seconds: fields.rateLimit.periodSeconds,
      ...(fields.rateLimit.bytes === undefined ? {} : { bytes: fields.rateLimit.bytes })
    }
  })

/** chunk_received, with the number of bytes stored so far. */
export const chunkReceived = (received: number): Reply =>
  `{"type":"chunk_received","message":"Ready for next chunk","received":${received}}`

/**
 * file_received: the text as the original had it; `stored_name` (newer) says the stored name as data; `sha256`
 * is absent only when the server did not hash the file (INTEGRITY=requested, and the client declared none).
 */
export const fileReceived = (storedName: string, extension: string, sha256: string | undefined): Reply =>
  JSON.stringify({
    type: "file_received",
    message: `File ${storedName} received successfully and file extension is \`${extension}\``,
    extension,
    sha256,
    stored_name: storedName
  })

/** The answer to `cancel`. */
export const uploadCancelled: Reply = JSON.stringify({ type: "upload_cancelled", message: "Upload cancelled and discarded" })

/** An `error` reply: `type` and `message` as the original service sent them, then `code` and, when known, `retry_after`. */
export const error = (refusal: Refusal.Refusal): Reply =>
  JSON.stringify(
    refusal.retryAfter === undefined
      ? { type: "error", message: refusal.message, code: refusal.code }
      : { type: "error", message: refusal.message, code: refusal.code, retry_after: refusal.retryAfter }
  )

/** The message rate limit's text (it lives in Refusals; kept under this name for the code that uses it). */
export const RATE_LIMIT_EXCEEDED = Refusals.rateLimited().message

/** The answer to a frame whose handling hit a bug in the server (a defect), whatever the frame was. */
export const internalError: Reply = error(Refusals.internalError())
