/**
 * Checks an upload's bytes against its extension as they arrive (the policy
 * is domain/ContentPolicy). Memory is bounded whatever the file size or the
 * chunk sizes: at most the first {@link HEAD_BYTES} bytes are kept, for
 * `file-type` to read the signature from, and text is validated as a UTF-8
 * stream across chunk boundaries (at most 3 bytes carried over).
 *
 * `file-type` is called here directly rather than behind a port: like
 * node:crypto's hash next to it in ActiveUpload, it is a pure computation
 * over bytes in memory (no I/O, nothing to swap in tests or production). It
 * cannot live in the domain because it is asynchronous and a third-party
 * library; the domain only decides which detected types an extension accepts.
 *
 * What it keeps of the bytes it is fed are copies, never views: the store
 * takes each chunk once it is inspected (FileStore's `append`).
 */
import { Effect, Either, Option } from "effect"
import { fileTypeFromBuffer, supportedExtensions } from "file-type"
import { isUtf8 } from "node:buffer"
import * as ContentPolicy from "../../domain/ContentPolicy.js"

/** Bytes of the head given to the signature detector (file-type's own sample size). */
export const HEAD_BYTES = 4100

/** The content check of one upload, fed with its bytes in order. */
export interface ContentCheck {
  /** Takes the next bytes (synchronous; keeps at most {@link HEAD_BYTES} of them). */
  readonly feed: (bytes: Uint8Array) => void
  /**
   * The verdict on the bytes fed so far: the refusal, if they contradict the
   * extension. Before the end only a definite contradiction refuses (invalid
   * text, or a full head with the wrong signature); with `complete` the file
   * is judged as it is (a short head too). An empty file always passes.
   */
  readonly verdict: (complete: boolean) => Effect.Effect<Option.Option<string>>
}

/** The check that lets everything through (CONTENT_CHECK=off). */
export const unchecked: ContentCheck = { feed: () => undefined, verdict: () => Effect.succeedNone }

const detect = (head: Uint8Array): Effect.Effect<string | undefined> =>
  Effect.tryPromise(() => fileTypeFromBuffer(head)).pipe(
    Effect.map((result) => result?.ext),
    // file-type handles truncated input itself; an exception is a bug there, and counts as "not recognised".
    Effect.catchAll((error) =>
      Effect.as(Effect.logWarning("content detection failed").pipe(Effect.annotateLogs({ error: String(error.cause) })), undefined)
    )
  )

/** A fresh check for a file named `*.extension`. */
export const make = (extension: string): ContentCheck => {
  const expectation = ContentPolicy.expectationFor(extension, supportedExtensions)
  switch (expectation._tag) {
    case "Anything":
      return unchecked
    case "Text":
      return textCheck(extension)
    case "Signature":
      return signatureCheck(extension, expectation.accepted)
  }
}

/** Bytes in a UTF-8 sequence that starts with `lead` (1 for anything that is not a multi-byte lead). */
const sequenceLength = (lead: number): number => (lead >= 0xf0 && lead <= 0xf7 ? 4 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xc0 && lead <= 0xdf ? 2 : 1)

/** Where an unfinished sequence at the end of `bytes` starts (bytes.length when the last one is complete). */
const unfinishedFrom = (bytes: Uint8Array): number => {
  for (let i = bytes.length - 1; i >= Math.max(0, bytes.length - 4); i--) {
    const byte = bytes[i]!
    if ((byte & 0xc0) !== 0x80) return i + sequenceLength(byte) > bytes.length ? i : bytes.length
  }
  return bytes.length
}

/**
 * Streaming UTF-8 validation with node's `isUtf8` (simdutf, no string is
 * built): a sequence cut by a chunk boundary is carried over (at most 3
 * bytes) and validated once complete.
 */
const textCheck = (extension: string): ContentCheck => {
  let valid = true
  let carry: Uint8Array = new Uint8Array(0)
  const feed = (bytes: Uint8Array) => {
    if (!valid || bytes.length === 0) return
    if (bytes.includes(0)) {
      valid = false
      return
    }
    let body = bytes
    if (carry.length > 0) {
      const needed = sequenceLength(carry[0]!) - carry.length
      if (bytes.length < needed) {
        carry = Buffer.concat([carry, bytes])
        return
      }
      valid = isUtf8(Buffer.concat([carry, bytes.subarray(0, needed)]))
      body = bytes.subarray(needed)
    }
    const end = unfinishedFrom(body)
    valid = valid && isUtf8(body.subarray(0, end))
    // A copy, not a view (see the header).
    carry = Uint8Array.from(body.subarray(end))
  }
  return {
    feed,
    verdict: (complete) =>
      Effect.sync(() => (valid && !(complete && carry.length > 0) ? Option.none() : Option.some(ContentPolicy.notText(extension))))
  }
}

const signatureCheck = (extension: string, accepted: ReadonlyArray<string>): ContentCheck => {
  let head: Uint8Array | undefined = new Uint8Array(HEAD_BYTES)
  let filled = 0
  let judged: Option.Option<string> | undefined
  return {
    feed: (bytes) => {
      if (head === undefined || filled === HEAD_BYTES) return
      const taken = Math.min(bytes.length, HEAD_BYTES - filled)
      head.set(bytes.subarray(0, taken), filled)
      filled += taken
    },
    verdict: (complete) =>
      Effect.suspend(() => {
        if (judged !== undefined) return Effect.succeed(judged)
        if (head === undefined || filled === 0 || (filled < HEAD_BYTES && !complete)) return Effect.succeedNone
        const sample = head.subarray(0, filled)
        return Effect.map(detect(sample), (detected) => {
          judged = Either.match(ContentPolicy.judgeSignature(extension, accepted, detected), {
            onLeft: Option.some,
            onRight: () => Option.none()
          })
          head = undefined
          return judged
        })
      })
  }
}
