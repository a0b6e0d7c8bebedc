/**
 * The resources of one upload while a connection writes it: its partial file
 * in the FileStore, its record and writer claim in the UploadRegistry, and
 * the running SHA-256 of its bytes. `Uploads` opens one (new, or resumed:
 * see Resume) and ends it in one of three ways: finished (published),
 * discarded (gone), or suspended (kept for a later resume, e.g. when the
 * connection drops). Why one fails, and what that does to it: UploadFailure.
 * It also refuses an upload whose bytes contradict its extension (see
 * ContentCheck) and, when the store reports its DiskSpace, one that would
 * leave less than the minimum free.
 */
import { Clock, Effect, Either, Option } from "effect"
import type { SafeFileName } from "../../domain/FileName.js"
import * as Refusals from "../../domain/Refusals.js"
import * as Upload from "../../domain/Upload.js"
import * as ContentCheck from "./ContentCheck.js"
import { Digests, hashes, type Integrity, none, type RunningDigest } from "../ports/Digests.js"
import { DiskSpace } from "../ports/DiskSpace.js"
import { FileStore, type PartialFile } from "../ports/FileStore.js"
import { type CompletedUpload, type UploadRecord, UploadRegistry } from "../ports/UploadRegistry.js"
import * as Resume from "./Resume.js"
import { outcomeOf, refuse, type UploadFailure } from "./UploadFailure.js"
import { logReference, newUploadId, redact } from "./UploadIds.js"

export { outcomeOf, refuse, refused, storageRefusal, type UploadFailure, UploadRefused } from "./UploadFailure.js"
export { logReference, redact } from "./UploadIds.js"

// The texts live in Refusals; these names are kept for the code and tests that compare replies with them.
export const BUSY = Refusals.busy().message
export const DISK_FULL = Refusals.diskFull().message
export const STORAGE_FAILED = Refusals.storageFailed().message
export const STORAGE_UNAVAILABLE = Refusals.storageUnavailable().message

/** An upload this connection holds: only it may write the partial file. */
export interface ActiveUpload {
  readonly uploadId: string
  readonly partial: PartialFile
  /** Running digest of every byte stored, including those before a resume (`none` when not hashed: see Integrity). */
  readonly hash: RunningDigest
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

export interface UploadOptions {
  /** Check the bytes against the extension (CONTENT_CHECK). */
  readonly contentCheck: boolean
  /** Bytes that must stay free on the store's disk after an upload (MIN_FREE_DISK_MB). */
  readonly minFreeBytes: number
  /** Which uploads are hashed (INTEGRITY); every one when absent. */
  readonly integrity?: Integrity
}

export const make = (options: UploadOptions = { contentCheck: false, minFreeBytes: 0 }) => Effect.gen(function*() {
  const store = yield* FileStore
  const registry = yield* UploadRegistry
  const disk = yield* Effect.serviceOption(DiskSpace)
  const digests = yield* Digests

  const contentCheck = (extension: string) => options.contentCheck ? ContentCheck.make(extension) : ContentCheck.unchecked
  /** The digest of an upload of `size` bytes expecting `expectedSha256`: `none` when INTEGRITY leaves it unhashed. */
  const digestFor = (size: number, expectedSha256: string | undefined) =>
    hashes(options.integrity ?? "sha256", expectedSha256) ? digests.sha256(size) : Effect.succeed(none)

  /** Refuses `bytes` more when they would leave less than the minimum free; an unreadable figure is logged and let through. */
  const ensureRoom = (bytes: number) =>
    Option.match(disk, {
      onNone: () => Effect.void,
      onSome: (space) =>
        space.available.pipe(
          Effect.flatMap((available) =>
            available - bytes < options.minFreeBytes ? refuse(Refusals.noRoom(bytes)) : Effect.void
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
      // The text is the content check's (from Refusals, through ContentPolicy).
      onSome: (message) => refuse({ code: "content_mismatch", message })
    })))

  /** Opens a new upload, recorded as `identity`'s when authentication is on. */
  const start = (
    fileName: string,
    size: number,
    expectedSha256: string | undefined,
    extension: string,
    identity?: string,
    fileType?: string
  ) =>
    Effect.gen(function*() {
      yield* ensureRoom(size)
      const uploadId = newUploadId()
      const createdAt = yield* Clock.currentTimeMillis
      const record: UploadRecord = {
        uploadId,
        fileName,
        size,
        expectedSha256,
        createdAt,
        ...(identity === undefined ? {} : { identity }),
        ...(fileType === undefined ? {} : { fileType })
      }
      yield* registry.create(record)
      const release = Option.getOrElse(yield* registry.claim(uploadId), () => Effect.void)
      const partial = yield* Effect.tapError(store.begin(uploadId), () => Effect.zipRight(release, Effect.ignore(registry.remove(uploadId))))
      return {
        uploadId,
        partial,
        hash: yield* digestFor(size, expectedSha256),
        content: contentCheck(extension),
        release,
        record,
        fileName,
        size,
        startedAt: createdAt
      } satisfies ActiveUpload
    })

  const discard = (upload: ActiveUpload) =>
    Effect.all([upload.hash.abandon, upload.partial.discard, Effect.ignoreLogged(registry.remove(upload.uploadId)), upload.release], {
      discard: true
    })

  /** Keeps the bytes for a later resume, which rebuilds the digest from them. */
  const putAside = (upload: ActiveUpload) => Effect.zipRight(upload.hash.abandon, upload.partial.suspend)

  const suspend = (upload: ActiveUpload) => Effect.zipRight(putAside(upload), upload.release)

  const resume = Resume.make({ store, registry, digestFor, contentCheck, inspect, ensureRoom, discard })

  /**
   * Verifies the claim, the size and the digest, publishes the file, and
   * records it as completed before its partial data goes, so that a resume of
   * it is answered the same way; the stored name and digest. On failure the
   * upload is gone, except when another connection has taken it over: then
   * it is left to that one.
   */
  const finish = (upload: ActiveUpload, file: SafeFileName, size: number, expectedSha256: string | undefined) =>
    Effect.gen(function*() {
      if (!(yield* Effect.tapError(registry.holds(upload.uploadId), () => putAside(upload)))) {
        yield* putAside(upload)
        return yield* refuse(Refusals.takenOver())
      }
      yield* Effect.tapError(inspect(upload, new Uint8Array(0), true), () => discard(upload))
      const sha256 = yield* upload.hash.hex
      if (sha256 === undefined && expectedSha256 !== undefined) return yield* Effect.dieMessage("an upload with a digest to check was not hashed")
      const verdict = sha256 === undefined ? Either.void : Upload.verifyDigest(expectedSha256, sha256)
      const recordCompletion = (storedName: string) =>
        Effect.flatMap(Clock.currentTimeMillis, (completedAt) =>
          registry.complete({
            ...upload.record,
            completed: { storedName, extension: file.extension, ...(sha256 === undefined ? {} : { sha256 }), completedAt }
          })).pipe(
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
        ? Effect.fail(refuse(verdict.left))
        : upload.partial.commit(file, size, recordCompletion)
      // A store that could not take the last bytes (out of reach) keeps what it holds: the upload stays resumable.
      const storedName = yield* Effect.tapError(published, (error) => outcomeOf(error) === "discarded" ? discard(upload) : putAside(upload))
      return { storedName, sha256 }
    }).pipe(
      // A bug on the way leaves the upload resumable, never an open file nobody closes (a no-op once committed).
      Effect.tapDefect(() => putAside(upload)),
      Effect.ensuring(upload.release)
    )

  return { start, resume, finish, discard, suspend, inspect }
})

export type Uploads = Effect.Effect.Success<ReturnType<typeof make>>
