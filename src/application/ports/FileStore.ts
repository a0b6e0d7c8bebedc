/**
 * The FileStore port: where uploaded bytes go. An upload is written to a
 * partial file as it arrives and only becomes visible under its final name
 * when it is committed, so a reader never sees a half-written file.
 */
import { Context, Data } from "effect"
import type { Effect, Option } from "effect"
import type { SafeFileName } from "../../domain/FileName.js"

export class FileStoreError extends Data.TaggedError("FileStoreError")<{
  /** "Busy": the upload is open in this process already (see `resume`). */
  readonly reason: "Open" | "Write" | "Commit" | "Remove" | "Busy"
  readonly cause: unknown
}> {
  override get message(): string {
    return this.reason === "Busy" ? `File store busy: ${String(this.cause)}` : `File store failed to ${this.reason.toLowerCase()}: ${String(this.cause)}`
  }
}

/**
 * Whether a store's (or a file-backed registry's) error means the disk, or
 * the writer's quota, is full: adapters keep the system error as the cause,
 * with code ENOSPC or EDQUOT.
 */
export const outOfSpace = (error: { readonly cause: unknown }): boolean => {
  const code = typeof error.cause === "object" && error.cause !== null ? (error.cause as { readonly code?: unknown }).code : undefined
  return code === "ENOSPC" || code === "EDQUOT"
}

/** One upload in progress, not yet visible under its final name. */
export interface PartialFile {
  /**
   * Appends `bytes` after everything appended so far; done when the store
   * holds them. `append` takes the bytes: the store may free their memory
   * once written, so the caller must neither read them nor keep a view of
   * them afterwards (adapters free them with adapters/Release).
   *
   * `alongside`, when given, is called once with the bytes still intact,
   * while the store writes them where it can (the filesystem store calls it
   * once write(2) is under way, so the caller's digest of the bytes overlaps
   * the write), else before it stores them; never after it freed them. It is
   * not called when `append` fails before storing anything.
   */
  readonly append: (bytes: Uint8Array, alongside?: () => void) => Effect.Effect<void, FileStoreError>
  /**
   * Makes the file visible under `file.name`, or under the first free
   * alternative (`report_1.pdf`, `report_2.pdf`, ...) when that is taken.
   * Never overwrites an existing file. When `expectedBytes` is given, refuses
   * a file of any other size (a sign that another writer appended too).
   * Once the file is complete under its name, runs `onPublished` with that
   * name (which says whether it recorded the completion), then removes the
   * partial data, and succeeds with the name. A failure with reason
   * "Commit" (a wrong size, a name the store refuses) discards the partial
   * data; one with reason "Write" (the storage out of reach while
   * publishing) keeps what the store holds, for a resume to commit again.
   * Nothing is published twice: when a crash came
   * between publishing and the end of `onPublished`, or `onPublished` could
   * not record the completion, the next commit of the upload finds the name
   * it was published under and succeeds with it (the filesystem store keeps
   * the partial name, a second link to the file; the S3 store marks each
   * object with the upload it publishes).
   */
  readonly commit: (
    file: SafeFileName,
    expectedBytes?: number,
    onPublished?: (storedName: string) => Effect.Effect<boolean>
  ) => Effect.Effect<string, FileStoreError>
  /** Removes the partial data. Idempotent, a no-op after commit; never fails (failures are logged). */
  readonly discard: Effect.Effect<void>
  /**
   * Closes the file but keeps every byte appended so far, for a later
   * `resume`. Idempotent, a no-op after commit or discard; never fails.
   */
  readonly suspend: Effect.Effect<void>
}

/** A partial file reopened by `resume`. */
export interface ResumedFile {
  readonly partial: PartialFile
  /** Bytes the store holds for this upload: where the client continues. */
  readonly held: number
  /**
   * Feeds the held bytes, in order, to `onBytes` (to rebuild a digest),
   * reading on only once the effect it returns is done (backpressure).
   */
  readonly replay: (onBytes: (bytes: Uint8Array) => Effect.Effect<void>) => Effect.Effect<void, FileStoreError>
}

/** A partial file at rest, for the expiry sweep. */
export interface StoredPartial {
  readonly uploadId: string
  /** When its last byte was appended (milliseconds since the epoch). */
  readonly touchedAt: number
}

export class FileStore extends Context.Tag("file-receiver/FileStore")<FileStore, {
  /** Opens a new, empty partial file for upload `uploadId`. */
  readonly begin: (uploadId: string) => Effect.Effect<PartialFile, FileStoreError>
  /**
   * Reopens the suspended partial file of `uploadId` for appending, if the
   * store still has it. Fails with reason "Busy" while this process has it
   * open (its writer claim lapsed, say). `size`, the upload's whole size,
   * lets a store that holds all of it already prepare for a commit with no
   * append (the S3 store then replays its bytes for the digest only).
   */
  readonly resume: (uploadId: string, size?: number) => Effect.Effect<Option.Option<ResumedFile>, FileStoreError>
  /** The partial files at rest or open. */
  readonly partials: Effect.Effect<ReadonlyArray<StoredPartial>, FileStoreError>
  /**
   * Deletes the partial data of `uploadId` (not open here). Idempotent:
   * succeeds when the data is gone, including when there was none. Fails
   * with `Remove` when the data may still be there (the file cannot be
   * deleted, the store does not answer); it logs nothing, the caller decides
   * whether and how often to.
   */
  readonly remove: (uploadId: string) => Effect.Effect<void, FileStoreError>
}>() {}
