/**
 * The expiry sweep: unfinished uploads are kept for resumes until
 * `expiry` has passed since their last byte, then removed (partial data and
 * registry record) by a periodic sweep. An upload someone is writing is never
 * swept: the sweep must win its writer claim first. The records of completed
 * uploads are kept for `expiry` after they completed (a resume of one is
 * answered with its file_received), then forgotten without an event.
 *
 * An upload is reported expired (`upload.expired`) once, when its partial
 * data and its record are both gone. A removal that fails (a file the
 * filesystem will not delete, a store or registry that does not answer)
 * leaves the rest of the upload to the next sweeps, which try again. Each
 * upload's first failure is logged as a warning and its eventual removal at
 * info; the attempts in between are quiet. The sweep remembers those uploads
 * in its layer, so after a restart a failure still there is logged once more.
 */
import { Clock, Duration, Effect, Either, HashMap, Layer, Option, Ref, Schedule } from "effect"
import { logReference } from "./Uploads.js"
import { FileStore } from "../ports/FileStore.js"
import * as UploadEvents from "../ports/UploadEvents.js"
import { type UploadRecord, UploadRegistry } from "../ports/UploadRegistry.js"

export interface ExpirySettings {
  readonly expiry: Duration.Duration
  /** Time between sweeps (default: a quarter of `expiry`, at most one minute). */
  readonly interval?: Duration.Duration
}

/** What an expired upload still holds: its partial data is removed first, its record (which the event reports) last. */
type Leftover = "partial data" | "record"

/** An expired upload that could not be removed yet. */
interface FailedRemoval {
  readonly leftover: Leftover
  readonly attempts: number
  /** Its record as last seen, for the event once it is gone. */
  readonly record: Option.Option<UploadRecord>
}

/** What sweeps remember between runs: the expired uploads they could not remove yet, by upload id. */
export type FailedRemovals = Ref.Ref<HashMap.HashMap<string, FailedRemoval>>

/** One sweep that remembers `failed` removals across runs; how many uploads it removed. */
export const sweepWith = (expiry: Duration.Duration, failed: FailedRemovals) =>
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

    /** Remembers a failed removal; logs it when it is the upload's first. */
    const removalFailed = (uploadId: string, leftover: Leftover, record: Option.Option<UploadRecord>, error: { readonly message: string }) =>
      Ref.modify(failed, (all) => {
        const earlier = HashMap.get(all, uploadId)
        const attempts = Option.match(earlier, { onNone: () => 1, onSome: (removal) => removal.attempts + 1 })
        const known = Option.orElse(record, () => Option.flatMap(earlier, (removal) => removal.record))
        return [Option.isNone(earlier), HashMap.set(all, uploadId, { leftover, attempts, record: known })] as const
      }).pipe(
        Effect.flatMap((first) => {
          if (!first) return Effect.void
          const reference = logReference(uploadId)
          return Effect.logWarning("could not remove an expired upload; later sweeps will try again").pipe(
            Effect.annotateLogs({ upload: reference, leftover, error: error.message.split(uploadId).join(reference) })
          )
        }),
        Effect.as(false)
      )

    /** Removes what is left of a claimed, expired upload and reports it once it is gone; whether it is. */
    const expire = (uploadId: string, record: Option.Option<UploadRecord>, from: Leftover) =>
      Effect.gen(function*() {
        if (from === "partial data") {
          const removed = yield* Effect.either(store.remove(uploadId))
          if (Either.isLeft(removed)) return yield* removalFailed(uploadId, "partial data", record, removed.left)
        }
        const forgotten = yield* Effect.either(registry.remove(uploadId))
        if (Either.isLeft(forgotten)) return yield* removalFailed(uploadId, "record", record, forgotten.left)
        const earlier = yield* Ref.modify(failed, (all) => [HashMap.get(all, uploadId), HashMap.remove(all, uploadId)])
        if (Option.isSome(earlier)) {
          yield* Effect.logInfo("expired upload removed after failed attempts").pipe(
            Effect.annotateLogs({ upload: logReference(uploadId), attempts: earlier.value.attempts + 1 })
          )
        }
        yield* reportExpired(uploadId, Option.orElse(record, () => Option.flatMap(earlier, (removal) => removal.record)))
        return true
      })

    const now = yield* Clock.currentTimeMillis
    const cutoff = now - Duration.toMillis(expiry)
    const expired = (yield* store.partials).filter((partial) => partial.touchedAt <= cutoff)
    const handled = new Set<string>()
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
      const found = yield* Effect.either(registry.get(uploadId))
      // What the upload is (unfinished, or completed with a leftover partial name) decides what to do: next sweep.
      if (Either.isLeft(found)) {
        yield* claim.value
        continue
      }
      handled.add(uploadId)
      const record = found.right
      // A completed upload's leftover partial name (a crash before it went): its record stays for resumes.
      if (Option.exists(record, (found) => found.completed !== undefined)) {
        yield* Effect.ensuring(Effect.ignore(store.remove(uploadId)), claim.value)
        continue
      }
      if (yield* Effect.ensuring(expire(uploadId, record, "partial data"), claim.value)) removed++
    }

    // Records left without a partial file: by a crash between creating the record and the file, or
    // between publishing the file and forgetting the record (these expire by their age), or by an
    // earlier sweep that removed the partial data but not the record.
    const partials = yield* store.partials
    const partialIds = new Set(partials.map((partial) => partial.uploadId))
    const leftovers = new Map<string, Option.Option<UploadRecord>>()
    for (const record of yield* registry.list) {
      // A completed upload is remembered for the expiry after it completed, then forgotten: it did not expire.
      if (record.completed !== undefined) {
        if (record.completed.completedAt <= cutoff) yield* Effect.ignoreLogged(registry.remove(record.uploadId))
        continue
      }
      if (record.createdAt <= cutoff && !partialIds.has(record.uploadId) && !handled.has(record.uploadId)) leftovers.set(record.uploadId, Option.some(record))
    }
    for (const uploadId of HashMap.keys(yield* Ref.get(failed))) {
      if (!partialIds.has(uploadId) && !handled.has(uploadId) && !leftovers.has(uploadId)) leftovers.set(uploadId, Option.none())
    }
    for (const [uploadId, listed] of leftovers) {
      const claim = yield* registry.claim(uploadId)
      if (Option.isNone(claim)) continue
      const record = Option.isSome(listed) ? Either.right(listed) : yield* Effect.either(registry.get(uploadId))
      if (Either.isLeft(record)) {
        yield* claim.value
        continue
      }
      // A completed upload's record is not expired: it is forgotten in its own time (above).
      if (Option.exists(record.right, (found) => found.completed !== undefined)) {
        yield* Ref.update(failed, HashMap.remove(uploadId))
        yield* claim.value
        continue
      }
      const failure = HashMap.get(yield* Ref.get(failed), uploadId)
      // Its partial data was left for a later sweep but has gone another way, with its record: the
      // upload was resumed and ended, and it is not this sweep's to report.
      if (Option.isNone(record.right) && Option.exists(failure, (removal) => removal.leftover === "partial data")) {
        yield* Ref.update(failed, HashMap.remove(uploadId))
        yield* claim.value
        continue
      }
      if (yield* Effect.ensuring(expire(uploadId, record.right, "record"), claim.value)) removed++
    }

    // An upload whose removal failed and that has been written to since is not expired any more.
    const written = new Set(partials.filter((partial) => partial.touchedAt > cutoff).map((partial) => partial.uploadId))
    yield* Ref.update(failed, HashMap.filter((_, uploadId) => !written.has(uploadId)))
    if (removed > 0) yield* Effect.logInfo("expired uploads removed").pipe(Effect.annotateLogs({ removed }))
    return removed
  })

/** A sweep with a fresh memory of failed removals, to run again and again. */
export const makeSweep = (expiry: Duration.Duration) =>
  Effect.map(Ref.make(HashMap.empty<string, FailedRemoval>()), (failed) => sweepWith(expiry, failed))

/** One sweep on its own: it remembers no earlier failures, so it logs each one it meets. */
export const sweep = (expiry: Duration.Duration) => Effect.flatten(makeSweep(expiry))

/** Runs the sweep in the background for as long as the layer lives. */
export const layer = (settings: ExpirySettings): Layer.Layer<never, never, FileStore | UploadRegistry> =>
  Layer.scopedDiscard(
    Effect.flatMap(makeSweep(settings.expiry), (sweepOnce) =>
      sweepOnce.pipe(
        Effect.catchAll((error) => Effect.logWarning("upload expiry sweep failed").pipe(Effect.annotateLogs({ error: error.message }))),
        Effect.repeat(Schedule.spaced(settings.interval ?? Duration.min(Duration.divide(settings.expiry, 4).pipe(Option.getOrElse(() => settings.expiry)), Duration.minutes(1)))),
        Effect.forkScoped
      ))
  )
