/**
 * The upload protocol as a pure state machine:
 * Idle -> Receiving(file, size, received) -> Completed(file).
 *
 * `transition` takes the current state and one decoded client message and
 * returns a `Step`: what the application must do (start a file, append bytes,
 * refuse with a message) and the next state. No I/O happens here; the
 * application runs the step against the FileStore and sends the replies.
 */
import { Data, Either } from "effect"
import * as Base64 from "./Base64.js"
import * as FileName from "./FileName.js"
import type * as Refusal from "./Refusal.js"
import * as Refusals from "./Refusals.js"
import type { SafeFileName } from "./FileName.js"
import type { ChunkBytes, ClientMessage, FileMeta } from "./Messages.js"

/** The limits an upload is checked against (from configuration). */
export interface UploadPolicy {
  readonly maxFileBytes: number
  readonly maxChunkBytes: number
  readonly allowedExtensions: ReadonlyArray<string>
}

export type UploadState = Data.TaggedEnum<{
  /** No upload on this connection yet, or the last one was discarded. */
  Idle: {}
  /**
   * An upload is open: `received` of `size` bytes are stored so far; the
   * stored file must hash to `expectedSha256` when the client gave one.
   */
  Receiving: {
    readonly file: SafeFileName
    readonly size: number
    readonly received: number
    readonly expectedSha256: string | undefined
  }
  /** The last upload completed; chunks are refused until the next file_meta. */
  Completed: { readonly file: SafeFileName }
}>
export const UploadState = Data.taggedEnum<UploadState>()

export type { ChunkBytes } from "./Messages.js"

export type Step = Data.TaggedEnum<{
  /**
   * Send `refusal` as an error. When `discard` is true the open upload (if
   * any) must be discarded; the state is already `next`.
   */
  Refuse: { readonly next: UploadState; readonly refusal: Refusal.Refusal; readonly discard: boolean }
  /**
   * Discard the open upload (if `replaces`), open a new one for `file`, reply
   * meta_received; when `completed` (a 0-byte file) finish it at once.
   */
  Start: {
    readonly next: UploadState
    readonly file: SafeFileName
    /** As the client sent them: a resume must repeat them. */
    readonly fileName: string
    readonly size: number
    readonly expectedSha256: string | undefined
    /** The media type the client gave, if any (for events). */
    readonly fileType: string | undefined
    readonly replaces: boolean
    readonly completed: boolean
  }
  /** Append `bytes`; reply chunk_received, or finish the file when `completed`. */
  Append: { readonly next: UploadState; readonly bytes: Uint8Array; readonly completed: boolean }
  /**
   * Discard the open upload (if `replaces`) and resume upload `uploadId`:
   * the application looks it up and checks it with {@link resumed}.
   */
  Resume: {
    readonly uploadId: string
    readonly file: SafeFileName
    readonly fileName: string
    readonly size: number
    readonly expectedSha256: string | undefined
    readonly replaces: boolean
  }
  /** Discard the open upload at the client's request. */
  Cancel: { readonly next: UploadState }
}>
export const Step = Data.taggedEnum<Step>()

export const initial: UploadState = UploadState.Idle()

// The texts live in Refusals; these names are kept for the code and tests that compare replies with them.
export const NO_UPLOAD = Refusals.noUpload().message
export const INVALID_BASE64 = Refusals.invalidBase64().message
export const UNKNOWN_UPLOAD = Refusals.unknownUpload().message

const noUpload = Refusals.noUpload()

const onMeta = (state: UploadState, meta: FileMeta, policy: UploadPolicy): Step => {
  const replaces = state._tag === "Receiving"
  const refuse = (refusal: Refusal.Refusal) => Step.Refuse({ next: UploadState.Idle(), refusal, discard: replaces })
  const size = meta.file_size
  if (size > policy.maxFileBytes) {
    return refuse(Refusals.fileTooLarge(size, policy.maxFileBytes))
  }
  const expectedSha256 = meta.sha256?.toLowerCase()
  return Either.match(FileName.validate(meta.file_name, policy.allowedExtensions), {
    onLeft: refuse,
    onRight: (file) =>
      meta.upload_id !== undefined
        ? Step.Resume({ uploadId: meta.upload_id, file, fileName: meta.file_name, size, expectedSha256, replaces })
        : Step.Start({
          next: size === 0 ? UploadState.Completed({ file }) : UploadState.Receiving({ file, size, received: 0, expectedSha256 }),
          file,
          fileName: meta.file_name,
          size,
          expectedSha256,
          fileType: meta.file_type,
          replaces,
          completed: size === 0
        })
  })
}

/** What the server remembers of an upload, to check a resume against. */
export interface ResumableUpload {
  readonly fileName: string
  readonly size: number
  readonly expectedSha256: string | undefined
}

/** What a resume must repeat of the upload it resumes. */
type ResumeRequest = {
  readonly file: SafeFileName
  readonly fileName: string
  readonly size: number
  readonly expectedSha256: string | undefined
}

/** Why `step` cannot resume `original`, if it cannot: name and size must match; a digest, if both gave one, too. */
const mismatch = (step: ResumeRequest, original: ResumableUpload, digest: string | undefined): Refusal.Refusal | undefined => {
  if (step.fileName !== original.fileName || step.size !== original.size) {
    return Refusals.resumeMismatch(original.fileName, original.size)
  }
  if (step.expectedSha256 !== undefined && digest !== undefined && step.expectedSha256 !== digest) {
    return Refusals.resumeDigestMismatch()
  }
  return undefined
}

/**
 * The state a resume continues in, given the original upload and the bytes
 * the store holds; or why the resume is refused. Name and size must match the
 * original; a digest, if both gave one, too.
 */
export const resumed = (
  step: ResumeRequest,
  original: ResumableUpload,
  held: number
): Either.Either<UploadState, Refusal.Refusal> => {
  const refused = mismatch(step, original, original.expectedSha256)
  if (refused !== undefined) return Either.left(refused)
  if (held > original.size) return Either.left(Refusals.unknownUpload())
  return Either.right(UploadState.Receiving({
    file: step.file,
    size: original.size,
    received: held,
    expectedSha256: step.expectedSha256 ?? original.expectedSha256
  }))
}

/**
 * Whether a resume of an upload that already completed, with digest
 * `storedSha256`, is answered with its file_received again; or why it is
 * refused. The same rules as {@link resumed}, the digest being the stored one.
 */
export const resumedCompleted = (
  step: ResumeRequest,
  original: ResumableUpload,
  storedSha256: string | undefined
): Either.Either<void, Refusal.Refusal> => {
  // A digest asked for now, of a file stored without one (INTEGRITY=requested), cannot be confirmed.
  if (storedSha256 === undefined && step.expectedSha256 !== undefined) return Either.left(Refusals.resumeDigestUnknown())
  const refused = mismatch(step, original, storedSha256)
  return refused === undefined ? Either.void : Either.left(refused)
}

/** Refuses a stored file whose digest is not the one the client asked for. */
export const verifyDigest = (expected: string | undefined, actual: string): Either.Either<void, Refusal.Refusal> =>
  expected === undefined || expected === actual
    ? Either.void
    : Either.left(Refusals.checksumMismatch(actual, expected))

const onChunk = (state: UploadState, bytes: Uint8Array, policy: UploadPolicy): Step => {
  if (state._tag !== "Receiving") {
    return Step.Refuse({ next: state, refusal: noUpload, discard: false })
  }
  if (bytes.length > policy.maxChunkBytes) {
    return Step.Refuse({
      next: state,
      refusal: Refusals.chunkTooLarge(bytes.length, policy.maxChunkBytes),
      discard: false
    })
  }
  const received = state.received + bytes.length
  if (received > state.size) {
    return Step.Refuse({
      next: UploadState.Idle(),
      refusal: Refusals.exceedsSize(state.size),
      discard: true
    })
  }
  return received === state.size
    ? Step.Append({ next: UploadState.Completed({ file: state.file }), bytes, completed: true })
    : Step.Append({ next: UploadState.Receiving({ ...state, received }), bytes, completed: false })
}

const misplaced = (state: UploadState & { readonly _tag: "Receiving" }, offset: number): Step =>
  Step.Refuse({
    next: state,
    refusal: Refusals.wrongOffset(offset, state.received),
    discard: false
  })

/** The protocol's transition function. Total: never throws, for any input. */
export const transition = (
  state: UploadState,
  message: ClientMessage | ChunkBytes,
  policy: UploadPolicy
): Step => {
  switch (message.type) {
    case "file_meta":
      return onMeta(state, message, policy)
    case "chunk_bytes":
      // In the order a file_chunk is checked in: no upload, then the offset (the bytes are already decoded).
      if (state._tag === "Receiving" && message.offset !== undefined && message.offset !== state.received) {
        return misplaced(state, message.offset)
      }
      return onChunk(state, message.bytes, policy)
    case "file_chunk": {
      if (state._tag !== "Receiving") return Step.Refuse({ next: state, refusal: noUpload, discard: false })
      if (message.offset !== undefined && message.offset !== state.received) return misplaced(state, message.offset)
      const bytes = Base64.decodeStrict(message.chunk)
      return bytes === undefined
        ? Step.Refuse({ next: state, refusal: Refusals.invalidBase64(), discard: false })
        : onChunk(state, bytes, policy)
    }
    case "cancel":
      return state._tag === "Receiving"
        ? Step.Cancel({ next: UploadState.Idle() })
        : Step.Refuse({ next: state, refusal: noUpload, discard: false })
  }
}
