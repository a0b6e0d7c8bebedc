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
import type { SafeFileName } from "./FileName.js"
import type { ClientMessage } from "./Messages.js"

/** The limits an upload is checked against (from configuration). */
export interface UploadPolicy {
  readonly maxFileBytes: number
  readonly maxChunkBytes: number
  readonly allowedExtensions: ReadonlyArray<string>
}

export type UploadState = Data.TaggedEnum<{
  /** No upload on this connection yet, or the last one was discarded. */
  Idle: {}
  /** An upload is open: `received` of `size` bytes are stored so far. */
  Receiving: { readonly file: SafeFileName; readonly size: number; readonly received: number }
  /** The last upload completed; chunks are refused until the next file_meta. */
  Completed: { readonly file: SafeFileName }
}>
export const UploadState = Data.taggedEnum<UploadState>()

/** An inbound chunk, already decoded to bytes (from base64 text or a binary frame). */
export interface ChunkBytes {
  readonly type: "chunk_bytes"
  readonly bytes: Uint8Array
}

export type Step = Data.TaggedEnum<{
  /**
   * Send `message` as an error. When `discard` is true the open upload (if
   * any) must be discarded; the state is already `next`.
   */
  Refuse: { readonly next: UploadState; readonly message: string; readonly discard: boolean }
  /**
   * Discard the open upload (if `replaces`), open a new one for `file`, reply
   * meta_received; when `completed` (a 0-byte file) finish it at once.
   */
  Start: { readonly next: UploadState; readonly file: SafeFileName; readonly replaces: boolean; readonly completed: boolean }
  /** Append `bytes`; reply chunk_received, or finish the file when `completed`. */
  Append: { readonly next: UploadState; readonly bytes: Uint8Array; readonly completed: boolean }
}>
export const Step = Data.taggedEnum<Step>()

export const initial: UploadState = UploadState.Idle()

export const NO_UPLOAD = "No upload in progress: send file_meta first"
export const INVALID_BASE64 = "Invalid base64 in chunk"

const MiB = 1024 * 1024

const formatLimit = (bytes: number): string =>
  bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} bytes`

const onMeta = (state: UploadState, fileName: string, size: number, policy: UploadPolicy): Step => {
  const replaces = state._tag === "Receiving"
  const refuse = (message: string) => Step.Refuse({ next: UploadState.Idle(), message, discard: replaces })
  if (size > policy.maxFileBytes) {
    return refuse(`File too large: ${size} bytes exceeds the limit of ${formatLimit(policy.maxFileBytes)}`)
  }
  return Either.match(FileName.validate(fileName, policy.allowedExtensions), {
    onLeft: refuse,
    onRight: (file) =>
      size === 0
        ? Step.Start({ next: UploadState.Completed({ file }), file, replaces, completed: true })
        : Step.Start({ next: UploadState.Receiving({ file, size, received: 0 }), file, replaces, completed: false })
  })
}

const onChunk = (state: UploadState, bytes: Uint8Array, policy: UploadPolicy): Step => {
  if (state._tag !== "Receiving") {
    return Step.Refuse({ next: state, message: NO_UPLOAD, discard: false })
  }
  if (bytes.length > policy.maxChunkBytes) {
    return Step.Refuse({
      next: state,
      message: `Chunk too large: ${bytes.length} bytes exceeds the limit of ${policy.maxChunkBytes} bytes per chunk`,
      discard: false
    })
  }
  const received = state.received + bytes.length
  if (received > state.size) {
    return Step.Refuse({
      next: UploadState.Idle(),
      message: `Chunk exceeds the declared file size (${state.size} bytes); upload discarded`,
      discard: true
    })
  }
  return received === state.size
    ? Step.Append({ next: UploadState.Completed({ file: state.file }), bytes, completed: true })
    : Step.Append({ next: UploadState.Receiving({ ...state, received }), bytes, completed: false })
}

/** The protocol's transition function. Total: never throws, for any input. */
export const transition = (
  state: UploadState,
  message: ClientMessage | ChunkBytes,
  policy: UploadPolicy
): Step => {
  switch (message.type) {
    case "file_meta":
      return onMeta(state, message.file_name, message.file_size, policy)
    case "chunk_bytes":
      return onChunk(state, message.bytes, policy)
    case "file_chunk": {
      if (state._tag !== "Receiving") return Step.Refuse({ next: state, message: NO_UPLOAD, discard: false })
      const bytes = Base64.decodeStrict(message.chunk)
      return bytes === undefined
        ? Step.Refuse({ next: state, message: INVALID_BASE64, discard: false })
        : onChunk(state, bytes, policy)
    }
  }
}
