/**
 * Uploads of the S3 store whose suspend failed after some parts had gone
 * out: S3 holds their bytes only as the parts of an unfinished multipart
 * upload. They are remembered in this process, so that a resume here first
 * completes those parts into the upload's `.partial/` object and continues
 * from their end, and the expiry sweep still sees them. Abandoned multipart
 * uploads are aborted where the server supports it.
 */
import { Effect } from "effect"
import { FileStoreError } from "../../application/ports/FileStore.js"
import type * as PartWriter from "./PartWriter.js"
import * as S3Bucket from "./S3Bucket.js"
import * as S3Staging from "./S3Staging.js"

interface Left {
  /** The parts worth keeping, or undefined: the upload is kept as an empty object. */
  readonly parts: PartWriter.Stranded | undefined
  readonly multipartId: string | undefined
  readonly touchedAt: number
}

/** Logs that `what` could not be done to `uploadId`'s partial upload (the store's failure log). */
export type LogFailure = (uploadId: string, what: string) => (cause: unknown) => Effect.Effect<void>

export const make = (bucket: S3Bucket.S3Bucket, logFailure: LogFailure) => {
  const stranded = new Map<string, Left>()
  let abortUnsupported = false

  /** Aborts a multipart upload (its parts are then freed), unless the server has said it cannot. */
  const abort = (uploadId: string, multipartId: string | undefined): Effect.Effect<void> =>
    multipartId === undefined || abortUnsupported
      ? Effect.void
      : Effect.tryPromise(() => bucket.abortMultipart(S3Staging.dataKey(uploadId), multipartId)).pipe(
        Effect.catchAll((error) => {
          if (!S3Bucket.isUnsupported(error.cause)) return logFailure(uploadId, "abort")(error.cause)
          abortUnsupported = true
          return Effect.logWarning("this S3 server does not support AbortMultipartUpload: parts of abandoned uploads stay until a lifecycle rule removes them")
        })
      )

  /**
   * After a failed suspend of `uploadId`: its writer's uploaded parts are
   * S3's and, when they hold more than the `resumedFrom` bytes it continued,
   * make it resumable from their end. A new upload with none is kept too
   * (empty), so that it is resumed from 0 rather than unknown; a resumed one
   * with nothing new keeps its `.partial/` object, and its multipart upload
   * is aborted.
   */
  const keep = (uploadId: string, writer: PartWriter.PartWriter, resumedFrom: number | undefined, touchedAt: number) =>
    Effect.flatMap(Effect.promise(() => writer.destroy()), (multipartId) => {
      const parts = writer.uploaded()
      const useful = parts !== undefined && parts.bytes > (resumedFrom ?? 0)
      if (!useful && resumedFrom !== undefined) return abort(uploadId, multipartId)
      return Effect.sync(() => void stranded.set(uploadId, { parts: useful ? parts : undefined, multipartId, touchedAt }))
    })

  /**
   * Makes what a failed suspend left of `uploadId` its `.partial/` object: its
   * uploaded parts, or an empty object when it had none (the multipart upload
   * is then aborted). Nothing when nothing was left.
   */
  const complete = (uploadId: string) =>
    Effect.suspend(() => {
      const left = stranded.get(uploadId)
      if (left === undefined) return Effect.void
      const parts = left.parts
      return Effect.tryPromise({
        try: async (): Promise<void> => {
          if (parts === undefined) {
            await bucket.put(S3Staging.dataKey(uploadId), Buffer.alloc(0))
            return
          }
          // Completed already (an earlier completion whose answer was lost), or the multipart upload is gone
          // (aborted by a lifecycle rule): the `.partial/` object is what there is. Anything else is S3 out
          // of reach, to try again at the next resume.
          await S3Staging.complete(bucket, uploadId, parts.uploadId, parts.parts, parts.bytes, true)
        },
        catch: (cause) => new FileStoreError({ reason: "Open", cause })
      }).pipe(
        // Completed once: a multipart upload cannot be completed again.
        Effect.tap(() => Effect.sync(() => stranded.delete(uploadId))),
        Effect.tap(() => (left.parts === undefined ? abort(uploadId, left.multipartId) : Effect.void)),
        Effect.tap(() =>
          Effect.tryPromise(() => S3Staging.writeTouchedAt(bucket, uploadId, left.touchedAt)).pipe(
            Effect.catchAll((error) => logFailure(uploadId, "record when it was last written, for")(error.cause))
          )
        )
      )
    })

  /** Forgets `uploadId`, aborting its multipart upload if one was left. */
  const drop = (uploadId: string) =>
    Effect.suspend(() => {
      const left = stranded.get(uploadId)
      stranded.delete(uploadId)
      return left === undefined ? Effect.void : abort(uploadId, left.multipartId)
    })

  /** Each stranded upload with when it last received bytes. */
  const touched = (): ReadonlyArray<readonly [string, number]> => Array.from(stranded, ([uploadId, left]) => [uploadId, left.touchedAt] as const)

  return { abort, keep, complete, drop, touched }
}
