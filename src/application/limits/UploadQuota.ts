/**
 * The limit on unfinished uploads per client address. "Unfinished" means
 * open on a connection or suspended and held for a resume: each holds a
 * lease under `uploads:<client address>` from its start until it is
 * finished, discarded or cancelled. A suspended upload's lease lasts
 * `ttl` (the upload expiry) from the moment it was suspended, so it lapses
 * when the expiry sweep may remove the upload. A resume from another address
 * counts the upload under that address too; the old address's lease lapses
 * with its ttl.
 */
import { Duration, Effect } from "effect"
import { type ActiveUpload, outcomeOf, type Resumed, refused, type UploadFailure, type Uploads } from "../uploads/Uploads.js"
import type { ConcurrencyLimiter } from "../ports/ConcurrencyLimiter.js"
import * as Refusals from "../../domain/Refusals.js"

export interface UploadQuotaSettings {
  /** Most unfinished uploads per client address. */
  readonly perClient: number
  /** How long a suspended upload is held (UPLOAD_EXPIRY). */
  readonly ttl: Duration.Duration
}

/** The refusal text (it lives in Refusals). */
export const tooManyUploads = (limit: number) => Refusals.tooManyUploads(limit).message

/** `uploads`, for one client, with every unfinished upload counted against `settings.perClient`. */
export const guard = (
  uploads: Uploads,
  limiter: ConcurrencyLimiter["Type"],
  settings: UploadQuotaSettings,
  clientAddress: string
) => {
    const key = `uploads:${clientAddress}`
    // A little longer than the expiry, so the lease never lapses before the sweep could remove the upload.
    const ttl = Duration.sum(settings.ttl, Duration.minutes(1))
    const take = (uploadId: string) =>
      Effect.catchAll(limiter.acquire({ key, holder: uploadId, limit: settings.perClient, ttl }), (error) =>
        Effect.as(Effect.logError("upload limiter unavailable; allowing the upload").pipe(Effect.annotateLogs({ error: error.message })), true))
    const giveBack = (upload: ActiveUpload) => Effect.ignoreLogged(limiter.release(key, upload.uploadId))
    const refusal = refused("too_many_uploads", tooManyUploads(settings.perClient))
    return {
      // Everything else (content inspection, ...) is the unguarded service's.
      ...uploads,
      start: (...args: Parameters<Uploads["start"]>) =>
        Effect.flatMap(uploads.start(...args), (upload) =>
          Effect.flatMap(take(upload.uploadId), (taken) =>
            taken ? Effect.succeed(upload) : Effect.zipRight(uploads.discard(upload), Effect.fail(refusal)))),
      // A completed upload holds no lease: answering its resume again takes none.
      resume: (...args: Parameters<Uploads["resume"]>): Effect.Effect<Resumed, UploadFailure> =>
        Effect.flatMap(uploads.resume(...args), (resumed): Effect.Effect<Resumed, UploadFailure> =>
          resumed._tag === "Completed" ? Effect.succeed(resumed) : Effect.flatMap(take(resumed.upload.uploadId), (taken) =>
            taken ? Effect.succeed(resumed) : Effect.zipRight(uploads.suspend(resumed.upload), Effect.fail(refusal)))),
      // The lease goes with the upload: not when it lives on (suspended, or taken over by another connection).
      finish: (...[upload, file, size, expectedSha256]: Parameters<Uploads["finish"]>) =>
        uploads.finish(upload, file, size, expectedSha256).pipe(
          Effect.tap(() => giveBack(upload)),
          Effect.tapError((error) => outcomeOf(error) === "discarded" ? giveBack(upload) : Effect.asVoid(take(upload.uploadId)))
        ),
      discard: (upload: ActiveUpload) => Effect.zipRight(uploads.discard(upload), giveBack(upload)),
      // Renews the lease: a suspended upload is held for `ttl` from now.
      suspend: (upload: ActiveUpload) => Effect.zipRight(uploads.suspend(upload), Effect.asVoid(take(upload.uploadId)))
    }
}
