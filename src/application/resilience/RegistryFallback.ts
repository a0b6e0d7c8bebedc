/**
 * Insurance for the shared upload registry: while the primary (Redis) cannot
 * be reached, new uploads are recorded in a local fallback (in memory)
 * instead of failing, so an outage does not stop uploads. An upload recorded
 * locally stays local for its whole life (claims, resume, removal), even
 * after the primary is back: it can be resumed on this instance only, and it
 * is lost with it. Uploads recorded in the primary keep using the primary;
 * while it is down their resumes fail with the storage error (retry later)
 * rather than being forgotten. The outage is logged once when it starts and
 * once when it ends (OutageLog).
 */
import { Context, Effect, HashSet, Layer, Ref } from "effect"
import { UploadRegistry, type UploadRegistryError } from "../ports/UploadRegistry.js"
import * as OutageLog from "./OutageLog.js"

const make = (primary: UploadRegistry["Type"], fallback: UploadRegistry["Type"]) =>
  Effect.gen(function*() {
    const local = yield* Ref.make(HashSet.empty<string>())
    const outage = yield* OutageLog.make({
      down: "upload registry unavailable; recording new uploads on this instance only until it is back",
      up: "upload registry available again; new uploads are shared again"
    })

    const isLocal = (uploadId: string) => Effect.map(Ref.get(local), HashSet.has(uploadId))
    /** Sends a call about `uploadId` to the registry that recorded it. */
    const routed = <A>(uploadId: string, call: (registry: UploadRegistry["Type"]) => Effect.Effect<A, UploadRegistryError>) =>
      Effect.flatMap(isLocal(uploadId), (onFallback) => call(onFallback ? fallback : primary))

    return UploadRegistry.of({
      create: (record) =>
        primary.create(record).pipe(
          Effect.zipLeft(outage.up),
          Effect.catchTag("UploadRegistryError", (error) =>
            error.reason !== "Unavailable" ? Effect.fail(error) : outage.down(error).pipe(
              Effect.zipRight(fallback.create(record)),
              Effect.zipRight(Ref.update(local, HashSet.add(record.uploadId)))
            ))
        ),
      get: (uploadId) => routed(uploadId, (registry) => registry.get(uploadId)),
      complete: (record) => routed(record.uploadId, (registry) => registry.complete(record)),
      // The primary's list may be unreachable; the local records still need sweeping.
      list: Effect.zipWith(
        Effect.orElseSucceed(primary.list, () => []),
        fallback.list,
        (shared, own) => [...shared, ...own]
      ),
      remove: (uploadId) =>
        Effect.zipRight(routed(uploadId, (registry) => registry.remove(uploadId)), Ref.update(local, HashSet.remove(uploadId))),
      claim: (uploadId) => routed(uploadId, (registry) => registry.claim(uploadId)),
      holds: (uploadId) => routed(uploadId, (registry) => registry.holds(uploadId))
    })
  })

/**
 * The registry of `primary`, recording new uploads in `fallback` (which must
 * not fail: an in-memory one) whenever the primary is unavailable.
 */
export const layer = <E, R>(
  primary: Layer.Layer<UploadRegistry, E, R>,
  fallback: Layer.Layer<UploadRegistry>
): Layer.Layer<UploadRegistry, E, R> =>
  Layer.scoped(
    UploadRegistry,
    Effect.gen(function*() {
      const primaryContext = yield* Layer.build(primary)
      const fallbackContext = yield* Layer.build(fallback)
      return yield* make(Context.get(primaryContext, UploadRegistry), Context.get(fallbackContext, UploadRegistry))
    })
  )
