/**
 * Publishing one finished upload of the S3 store under the first free name,
 * and what a failure on the way does to it. Only a wrong size or a name the
 * store refuses discards the upload (reason "Commit"); any other failure
 * keeps what S3 holds (reason "Write": the upload is suspended, and a resume,
 * here or on another instance, publishes it again):
 * - a file below one part is put from memory; when that fails, its bytes are
 *   put as the `.partial/` object if S3 takes them (a resumed one keeps its
 *   earlier `.partial/` object otherwise);
 * - a multipart upload is first completed as the `.partial/` object (a
 *   completion that fails keeps its parts for S3Stranded, as a failed write
 *   does, unless the object shows it was done), then copied (S3LargeCopy past
 *   one CopyObject's limit): a copy that fails keeps that object;
 * - a resumed upload that received nothing since is copied from its
 *   `.partial/` object as it is.
 */
import { Effect } from "effect"
import { FileStoreError } from "../../application/ports/FileStore.js"
import { logReference } from "../../application/uploads/Uploads.js"
import type * as FileName from "../../domain/FileName.js"
import type * as PartWriter from "./PartWriter.js"
import type * as S3Bucket from "./S3Bucket.js"
import * as S3LargeCopy from "./S3LargeCopy.js"
import * as S3Publish from "./S3Publish.js"
import * as S3Staging from "./S3Staging.js"
import { dataKey } from "./S3Staging.js"
import type * as S3Stranded from "./S3Stranded.js"

/** One open upload of the store, as its commit needs it. */
export interface Upload {
  readonly bucket: S3Bucket.S3Bucket
  readonly uploadId: string
  readonly writer: PartWriter.PartWriter
  /** The size of the `.partial/` object it continues, for a resumed upload. */
  readonly resumedFrom: number | undefined
  /** When it last received bytes. */
  readonly touchedAt: () => number
  /** Drops its multipart upload and its `.partial/` object: the upload is discarded. */
  readonly destroy: Effect.Effect<void>
  readonly publish: ReturnType<typeof S3Publish.make>
  readonly stranded: ReturnType<typeof S3Stranded.make>
  readonly logFailure: S3Stranded.LogFailure
  /** The largest object one CopyObject copies. */
  readonly singleCopyLimit: number
  readonly partConcurrency: number
}

/** A published upload: its name, and whether a `.partial/` object is left to remove. */
export interface Published {
  readonly name: string
  readonly staged: boolean
}


/** A failure to publish: discarding only for a name the store refuses. */
const publishFailure = (cause: unknown) => new FileStoreError({ reason: cause instanceof S3Publish.NameRefused ? "Commit" : "Write", cause })

export const make = (upload: Upload) => {
  const { bucket, destroy, logFailure, publish, resumedFrom, stranded, uploadId, writer } = upload
  /** What a published object says of its upload (the upload's log reference: the id itself is a capability). */
  const publisher = logReference(uploadId)
  /** After a failure that keeps the upload: logged, and the time of its last bytes kept beside its `.partial/` object. */
  const kept = (cause: unknown, alsoPut?: Buffer) =>
    Effect.zipRight(
      logFailure(uploadId, "publish (kept for a resume)")(cause),
      Effect.tryPromise(async () => {
        if (alsoPut !== undefined) await bucket.put(dataKey(uploadId), alsoPut)
        await S3Staging.writeTouchedAt(bucket, uploadId, upload.touchedAt())
      }).pipe(Effect.ignore)
    )

  /** When the upload holds `size` bytes and `expectedBytes` says otherwise, discards it (a sign that another writer appended too). */
  const refusedSize = (size: number, expectedBytes: number | undefined) =>
    expectedBytes === undefined || size === expectedBytes ? undefined : Effect.zipRight(
      destroy,
      Effect.fail(new FileStoreError({ reason: "Commit", cause: `the partial upload holds ${size} bytes, not the ${expectedBytes} expected` }))
    )

  /** Copies the completed `.partial/` object of `size` bytes under the first free name. */
  const publishStaged = (file: FileName.SafeFileName, size: number): Effect.Effect<Published, FileStoreError> =>
    Effect.tryPromise({
      try: async () => {
        const name = await publish(
          file,
          (key, ifAbsent) =>
            size > upload.singleCopyLimit
              ? S3LargeCopy.copyLarge(bucket, { from: dataKey(uploadId), to: key, size, ifAbsent, upload: publisher, concurrency: upload.partConcurrency })
              : bucket.copy(dataKey(uploadId), key, ifAbsent, publisher),
          publisher
        )
        return { name, staged: true }
      },
      catch: publishFailure
    }).pipe(Effect.tapError((error) => (error.reason === "Commit" ? destroy : kept(error.cause))))

  /** The finished writer's bytes under the first free name (see the module's comment). */
  const publishFinished = (
    finished: PartWriter.Finished,
    file: FileName.SafeFileName,
    expectedBytes?: number
  ): Effect.Effect<Published, FileStoreError> => {
    const size = writer.written()
    const refused = refusedSize(size, expectedBytes)
    if (refused !== undefined) return refused
    if (finished._tag === "Small") {
      return Effect.tryPromise({
        try: () => publish(file, (key, ifAbsent) => bucket.put(key, finished.body, ifAbsent, publisher), publisher),
        catch: publishFailure
      }).pipe(
        Effect.map((name) => ({ name, staged: resumedFrom !== undefined })),
        Effect.tapError((error) => (error.reason === "Commit" ? destroy : kept(error.cause, finished.body)))
      )
    }
    return Effect.tryPromise({
      try: () => S3Staging.complete(bucket, uploadId, finished.uploadId, finished.parts, size),
      catch: (cause) => new FileStoreError({ reason: "Write", cause })
    }).pipe(
      Effect.tapError(() => stranded.keep(uploadId, writer, resumedFrom, upload.touchedAt())),
      Effect.zipRight(publishStaged(file, size))
    )
  }

  /**
   * A resumed upload that received nothing since: its `.partial/` object of `size` bytes is the whole
   * file already, so it is copied as it is (any bytes replayed into the writer are dropped), with no
   * completion to fail on the way.
   */
  const publishAsStaged = (file: FileName.SafeFileName, size: number, expectedBytes?: number): Effect.Effect<Published, FileStoreError> =>
    refusedSize(size, expectedBytes) ?? Effect.promise(() => writer.destroy()).pipe(
      Effect.flatMap((multipartId) => stranded.abort(uploadId, multipartId)),
      Effect.zipRight(publishStaged(file, size))
    )

  return { publishFinished, publishAsStaged }
}
