/**
 * The expiry sweep: unfinished uploads are kept for resumes until
 * `expiry` has passed since their last byte, then removed (partial data and
 * registry record) by a periodic sweep. An upload someone is writing is never
 * swept: the sweep must win its writer claim first. The records of completed
 * uploads are kept for `expiry` after they completed (a resume of one is
 * answered with its file_received), then forgotten without an event.
 */
import { Clock, Duration, Effect, Either, Layer, Option, Schedule } from "effect"
import { FileStore } from "./FileStore.js"
import * as UploadEvents from "./UploadEvents.js"
import { type UploadRecord, UploadRegistry } from "./UploadRegistry.js"

export interface ExpirySettings {
  readonly expiry: Duration.Duration
  /** Time between sweeps (default: a quarter of `expiry`, at most one minute). */
  readonly interval?: Duration.Duration
}

/** One sweep: removes every expired, unclaimed partial upload; how many it removed. */
export const sweep = (expiry: Duration.Duration) =>
  Effect.gen(function*() {
    const store = yield* FileStore
    const registry = yield* UploadRegistry
    const emit = yield* UploadEvents.emitter
    /** Reports an expired upload, with what its record (if still there) tells. */
    const reportExpired = (uploadId: string, record: Option.Option<UploadRecord>) =>
      emit({
        type: "upload.expired",
        uploadId,
        ...Option.match(record, {
          onNone: () => ({}),
          onSome: ({ createdAt, fileName, size }) => ({ fileName, size, startedAt: createdAt })
        })
      })
    const now = yield* Clock.currentTimeMillis
    const cutoff = now - Duration.toMillis(expiry)
    const expired = (yield* store.partials).filter((partial) => partial.touchedAt <= cutoff)
    let removed = 0
    for (const { uploadId } of expired) {
      const claim = yield* registry.claim(uploadId)
      if (Option.isNone(claim)) continue
      // Resumed and written since the listing? Then it is not expired any more.
      const current = (yield* Effect.either(store.partials)).pipe(
        Either.map((partials) => partials.find((partial) => partial.uploadId === uploadId))
      )
      if (Either.isLeft(current) || (current.right !== undefined && current.right.touchedAt > cutoff)) {
        yield* claim.value
        continue
      }
      const record = Option.flatten(yield* Effect.option(registry.get(uploadId)))
      yield* store.remove(uploadId)
      // A completed upload's leftover partial name (a crash before it went): its record stays for resumes.
      if (Option.exists(record, (found) => found.completed !== undefined)) {
        yield* claim.value
        continue
      }
      yield* Effect.ignoreLogged(registry.remove(uploadId))
      yield* claim.value
      yield* reportExpired(uploadId, record)
      removed++
    }
    // Records left without a partial file (a crash between creating the record and the file, or
    // between publishing the file and forgetting the record) expire by their age.
    const partialIds = new Set((yield* store.partials).map((partial) => partial.uploadId))
    for (const record of yield* registry.list) {
      // A completed upload is remembered for the expiry after it completed, then forgotten: it did not expire.
      if (record.completed !== undefined) {
        if (record.completed.completedAt <= cutoff) yield* Effect.ignoreLogged(registry.remove(record.uploadId))
        continue
      }
      if (record.createdAt > cutoff || partialIds.has(record.uploadId)) continue
      const claim = yield* registry.claim(record.uploadId)
      if (Option.isNone(claim)) continue
      yield* Effect.ignoreLogged(registry.remove(record.uploadId))
      yield* claim.value
      yield* reportExpired(record.uploadId, Option.some(record))
      removed++
    }
    if (removed > 0) yield* Effect.logInfo("expired uploads removed").pipe(Effect.annotateLogs({ removed }))
    return removed
  })

/** Runs the sweep in the background for as long as the layer lives. */
export const layer = (settings: ExpirySettings): Layer.Layer<never, never, FileStore | UploadRegistry> =>
  Layer.scopedDiscard(
    sweep(settings.expiry).pipe(
      Effect.catchAll((error) => Effect.logWarning("upload expiry sweep failed").pipe(Effect.annotateLogs({ error: error.message }))),
      Effect.repeat(Schedule.spaced(settings.interval ?? Duration.min(Duration.divide(settings.expiry, 4).pipe(Option.getOrElse(() => settings.expiry)), Duration.minutes(1)))),
      Effect.forkScoped
    )
  )
