/**
 * The resources of one upload while a connection writes it: its partial file
 * in the FileStore, its record and writer claim in the UploadRegistry, and
 * the running SHA-256 of its bytes. `Uploads` opens one (new or resumed) and
 * ends it in one of three ways: finished (published), discarded (gone), or
 * suspended (kept for a later resume, e.g. when the connection drops).
 * It also refuses an upload whose bytes contradict its extension (see
 * ContentCheck) and, when the store reports its DiskSpace, one that would
 * leave less than the minimum free.
 */
import { Clock, Data, Effect, Either, Option } from "effect"
import { createHash, type Hash, randomBytes } from "node:crypto"
import type { SafeFileName } from "../../domain/FileName.js"
import * as Refusal from "../../domain/Refusal.js"
import * as Refusals from "../../domain/Refusals.js"
import * as Upload from "../../domain/Upload.js"
import * as ContentCheck from "./ContentCheck.js"
import { DiskSpace } from "../ports/DiskSpace.js"
import { FileStore, type FileStoreError, outOfSpace, type PartialFile } from "../ports/FileStore.js"
import { type CompletedUpload, type UploadRecord, UploadRegistry, type UploadRegistryError } from "../ports/UploadRegistry.js"

/** An upload this connection holds: only it may write the partial file. */
export interface ActiveUpload {
  readonly uploadId: string
  readonly partial: PartialFile
  /** Running digest of every byte stored, including those before a resume. */
  readonly hash: Hash
  /** Checks the bytes against the extension as they arrive, including those before a resume. */
  readonly content: ContentCheck.ContentCheck
  readonly release: Effect.Effect<void>
  /** What the registry holds of it: file_name as the client first sent it, the declared size, when it started (epoch ms), who started it. */
  readonly record: UploadRecord
  /** file_name as the client first sent it, the declared size, and when it started (epoch ms): for events. */
  readonly fileName: string
  readonly size: number
  readonly startedAt: number
}

/** What a resume found: the upload reopened on this connection, or one that completed before. */
export type Resumed =
  | { readonly _tag: "Opened"; readonly upload: ActiveUpload; readonly state: Upload.UploadState }
  | { readonly _tag: "Completed"; readonly completed: CompletedUpload }

/** Why an upload could not be opened or finished: a refusal, as data (its code decides, its message is for the client). */
export class UploadRefused extends Data.TaggedError("UploadRefused")<{ readonly refusal: Refusal.Refusal }> {
  override get message(): string {
    return this.refusal.message
  }
}

/** An UploadRefused for `code`, with `message`. */
export const refused = (code: Refusal.RefusalCode, message: string) => new UploadRefused({ refusal: Refusal.make(code, message) })

export type UploadFailure = UploadRefused | FileStoreError | UploadRegistryError

/**
 * How logs name an upload: the first 16 hex digits of sha256(upload_id).
 * The id itself lets its holder resume, append to or cancel the upload, so
 * it never goes into logs; whoever has the id can compute the reference.
 */
export const logReference = (uploadId: string): string => createHash("sha256").update(uploadId).digest("hex").slice(0, 16)

/** `text` with every occurrence of `uploadId` replaced by its log reference (error texts name partial files by it). */
export const redact = (text: string, uploadId?: string): string =>
  (uploadId === undefined ? text : text.split(uploadId).join(logReference(uploadId)))
    // Any other upload's id, in the name of its partial file or record.
    .replace(/\.[A-Za-z0-9_-]{22,64}\.(part|upload\.json)/g, ".<upload id>.$1")

/** A new id: 144 random bits, base64url (24 characters). */
const newUploadId = (): string => randomBytes(18).toString("base64url")

// The texts live in Refusals.
export const BUSY = Refusals.busy().message
export const TAKEN_OVER = Refusals.takenOver().message
export const noRoom = (bytes: number): string => Refusals.noRoom(bytes).message
export const DISK_FULL = Refusals.diskFull().message
export const STORAGE_FAILED = Refusals.storageFailed().message
export const STORAGE_UNAVAILABLE = Refusals.storageUnavailable().message
export const STORAGE_UNAVAILABLE_AT_START = Refusals.storageUnavailableAtStart().message

/**
 * What a failure does to the upload it hit: a refusal, a full disk and a
 * failed commit end it ("discarded"), except a takeover, which leaves it to
 * the other connection ("kept"); any other failure of the store or the
 * registry (it could not be written or reached) leaves it resumable with
 * what the store durably holds ("suspended").
 */
export const outcomeOf = (error: UploadFailure): "discarded" | "suspended" | "kept" =>
  error._tag === "UploadRefused"
    ? error.refusal.code === "taken_over" ? "kept" : "discarded"
    : error._tag === "FileStoreError" && (error.reason === "Commit" || outOfSpace(error))
    ? "discarded"
    : "suspended"

export interface UploadOptions {
  /** Check the bytes against the extension (CONTENT_CHECK). */
  readonly contentCheck: boolean
  /** Bytes that must stay free on the store's disk after an upload (MIN_FREE_DISK_MB). */
  readonly minFreeBytes: number
}

export const make = (options: UploadOptions = { contentCheck: false, minFreeBytes: 0 }) => Effect.gen(function*() {
  const store = yield* FileStore
  const registry = yield* UploadRegistry
  const disk = yield* Effect.serviceOption(DiskSpace)

  const contentCheck = (extension: string) => options.contentCheck ? ContentCheck.make(extension) : ContentCheck.unchecked

  /** Refuses `bytes` more when they would leave less than the minimum free; an unreadable figure is logged and let through. */
  const ensureRoom = (bytes: number) =>
    Option.match(disk, {
      onNone: () => Effect.void,
      onSome: (space) =>
        space.available.pipe(
          Effect.flatMap((available) =>
            available - bytes < options.minFreeBytes ? refused("insufficient_storage", noRoom(bytes)) : Effect.void
          ),
          Effect.catchTag("DiskSpaceError", (error) => Effect.logWarning("free disk space unknown").pipe(Effect.annotateLogs({ error: error.message })))
        )
    })

  /** Feeds `bytes` to the upload's content check; fails when they contradict the extension. */
  const inspect = (upload: ActiveUpload, bytes: Uint8Array, complete = false) =>
    Effect.suspend(() => {
      upload.content.feed(bytes)
      return upload.content.verdict(complete)
    }).pipe(Effect.flatMap(Option.match({
      onNone: () => Effect.void,
      onSome: (message) => refused("content_mismatch", message)
    })))

  /** Opens a new upload, recorded as `identity`'s when authentication is on. */
  const start = (fileName: string, size: number, expectedSha256: string | undefined, extension: string, identity?: string) =>
    Effect.gen(function*() {
      yield* ensureRoom(size)
      const uploadId = newUploadId()
      const createdAt = yield* Clock.currentTimeMillis
      const record: UploadRecord = { uploadId, fileName, size, expectedSha256, createdAt, ...(identity === undefined ? {} : { identity }) }
      yield* registry.create(record)
      const release = Option.getOrElse(yield* registry.claim(uploadId), () => Effect.void)
      const partial = yield* Effect.tapError(store.begin(uploadId), () => Effect.zipRight(release, Effect.ignore(registry.remove(uploadId))))
      return {
        uploadId,
        partial,
        hash: createHash("sha256"),
        content: contentCheck(extension),
        release,
        record,
        fileName,
        size,
        startedAt: createdAt
      } satisfies ActiveUpload
    })

  /**
   * Reopens `step.uploadId` for `identity` and checks it against the resume
   * request: the state to continue in, or what the upload was stored as if it
   * completed before. An upload someone else started is unknown to
   * `identity`. `admit` decides on an upload that would go on writing (the
   * pre-upload hook), before anything is claimed or opened.
   */
  const resume = (
    step: Upload.Step & { readonly _tag: "Resume" },
    identity?: string,
    admit: (record: UploadRecord) => Effect.Effect<void, UploadRefused> = () => Effect.void
  ): Effect.Effect<Resumed, UploadFailure> =>
    Effect.gen(function*() {
      const unknown = new UploadRefused({ refusal: Refusals.unknownUpload() })
      const record = yield* registry.get(step.uploadId).pipe(
        // An unreadable record can never be resumed: it is forgotten, like an upload that expired.
        Effect.catchIf(
          (error) => error.reason === "Corrupt",
          (error) =>
            Effect.zipRight(
              Effect.logWarning("forgetting an unreadable upload record").pipe(
                Effect.annotateLogs({ upload: logReference(step.uploadId), error: redact(error.message, step.uploadId) })
              ),
              Effect.as(Effect.ignoreLogged(registry.remove(step.uploadId)), Option.none<UploadRecord>())
            )
        )
      )
      // The same answer as for an id never handed out: nothing tells another identity the upload exists.
      if (Option.isNone(record) || record.value.identity !== identity) return yield* unknown
      const completed = record.value.completed
      if (completed !== undefined) {
        const verdict = Upload.resumedCompleted(step, record.value, completed.sha256)
        if (Either.isLeft(verdict)) return yield* new UploadRefused({ refusal: verdict.left })
        return { _tag: "Completed", completed } as const
      }
      yield* admit(record.value)
      const claimed = yield* registry.claim(step.uploadId)
      if (Option.isNone(claimed)) return yield* refused("busy", BUSY)
      const release = claimed.value
      const reopened = yield* store.resume(step.uploadId).pipe(
        Effect.tapError(() => release),
        // Open in this process after all (its claim lapsed while it wrote): busy, not gone.
        Effect.catchIf((error) => error.reason === "Busy", () => refused("busy", BUSY))
      )
      if (Option.isNone(reopened)) {
        yield* Effect.ignoreLogged(registry.remove(step.uploadId))
        yield* release
        return yield* unknown
      }
      const { held, partial, replay } = reopened.value
      const giveBack = Effect.zipRight(partial.suspend, release)
      const state = Upload.resumed(step, record.value, held)
      if (Either.isLeft(state)) {
        return yield* Effect.zipRight(giveBack, new UploadRefused({ refusal: state.left }))
      }
      const hash = createHash("sha256")
      const content = contentCheck(step.file.extension)
      yield* Effect.tapError(replay((bytes) => {
        hash.update(bytes)
        content.feed(bytes)
      }), () => giveBack)
      const { createdAt, fileName, size } = record.value
      const upload: ActiveUpload = {
        uploadId: step.uploadId,
        partial,
        hash,
        content,
        release,
        record: record.value,
        fileName,
        size,
        startedAt: createdAt
      }
      // Bytes held from before can still contradict the extension (say, the check was off then): they are of no use.
      yield* Effect.tapError(inspect(upload, new Uint8Array(0)), () => discard(upload))
      yield* Effect.tapError(ensureRoom(record.value.size - held), () => giveBack)
      return { _tag: "Opened", upload, state: state.right } as const
    })

  const discard = (upload: ActiveUpload) =>
    Effect.all([upload.partial.discard, Effect.ignoreLogged(registry.remove(upload.uploadId)), upload.release], { discard: true })

  const suspend = (upload: ActiveUpload) => Effect.zipRight(upload.partial.suspend, upload.release)

  /**
   * Verifies the claim, the size and the digest, publishes the file, and
   * records it as completed before its partial data goes, so that a resume of
   * it is answered the same way; the stored name and digest. On failure the
   * upload is gone, except when another connection has taken it over: then
   * it is left to that one.
   */
  const finish = (upload: ActiveUpload, file: SafeFileName, size: number, expectedSha256: string | undefined) =>
    Effect.gen(function*() {
      if (!(yield* Effect.tapError(registry.holds(upload.uploadId), () => upload.partial.suspend))) {
        yield* upload.partial.suspend
        return yield* refused("taken_over", TAKEN_OVER)
      }
      yield* Effect.tapError(inspect(upload, new Uint8Array(0), true), () => discard(upload))
      const sha256 = upload.hash.digest("hex")
      const verdict = Upload.verifyDigest(expectedSha256, sha256)
      const recordCompletion = (storedName: string) =>
        Effect.flatMap(Clock.currentTimeMillis, (completedAt) =>
          registry.complete({ ...upload.record, completed: { storedName, extension: file.extension, sha256, completedAt } })).pipe(
            Effect.as(true),
            // The file is published: the client is told so. The store keeps what shows it is (see FileStore's commit).
            Effect.catchAll((error) =>
              Effect.as(
                Effect.logError("upload published, but its completion could not be recorded").pipe(
                  Effect.annotateLogs({ upload: logReference(upload.uploadId), error: redact(error.message, upload.uploadId) })
                ),
                false
              ))
          )
      const published: Effect.Effect<string, UploadFailure> = Either.isLeft(verdict)
        ? Effect.fail(new UploadRefused({ refusal: verdict.left }))
        : upload.partial.commit(file, size, recordCompletion)
      const storedName = yield* Effect.tapError(published, () => discard(upload))
      return { storedName, sha256 }
    }).pipe(
      // A bug on the way leaves the upload resumable, never an open file nobody closes (a no-op once committed).
      Effect.tapDefect(() => upload.partial.suspend),
      Effect.ensuring(upload.release)
    )

  return { start, resume, finish, discard, suspend, inspect }
})

export type Uploads = Effect.Effect.Success<ReturnType<typeof make>>
