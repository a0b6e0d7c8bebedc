/**
 * In-process RateLimiter: fixed windows in a Ref, for a single instance (the
 * embedded default) and for tests. Time comes from effect's Clock, so
 * TestClock drives it. Expired windows are pruned as the map grows.
 */
import { Clock, Duration, Effect, HashMap, Layer, Ref } from "effect"
import { RateLimiter } from "../../application/RateLimiter.js"

interface Window {
  readonly count: number
  readonly endsAt: number
}

/** Above this many tracked keys, expired windows are dropped on the next hit. */
const PRUNE_THRESHOLD = 10_000

export const make = Effect.gen(function*() {
  const windows = yield* Ref.make(HashMap.empty<string, Window>())
  return RateLimiter.of({
    consume: ({ cost = 1, key, limit, window }) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.modify(windows, (map) => {
          const live = HashMap.size(map) > PRUNE_THRESHOLD ? HashMap.filter(map, (w) => w.endsAt > now) : map
          const current = HashMap.get(live, key)
          const next: Window = current._tag === "Some" && current.value.endsAt > now
            ? { count: current.value.count + cost, endsAt: current.value.endsAt }
            : { count: cost, endsAt: now + Duration.toMillis(window) }
          const verdict = { allowed: next.count <= limit, count: next.count, resetAfterMillis: next.endsAt - now }
          return [verdict, HashMap.set(live, key, next)]
        }))
  })
})

export const layerMemory: Layer.Layer<RateLimiter> = Layer.effect(RateLimiter, make)
