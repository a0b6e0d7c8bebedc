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

/** Above this many tracked keys, ended windows are dropped, at most once per `PRUNE_INTERVAL_MILLIS`. */
const PRUNE_THRESHOLD = 10_000
const PRUNE_INTERVAL_MILLIS = 1_000

interface Windows {
  readonly byKey: HashMap.HashMap<string, Window>
  readonly prunedAt: number
}

const prune = (windows: Windows, now: number): Windows =>
  HashMap.size(windows.byKey) > PRUNE_THRESHOLD && now - windows.prunedAt >= PRUNE_INTERVAL_MILLIS
    ? { byKey: HashMap.filter(windows.byKey, (w) => w.endsAt > now), prunedAt: now }
    : windows

export const make = Effect.gen(function*() {
  const state = yield* Ref.make<Windows>({ byKey: HashMap.empty(), prunedAt: 0 })
  return RateLimiter.of({
    consume: ({ cost = 1, key, limit, window }) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.modify(state, (windows) => {
          const live = prune(windows, now)
          const current = HashMap.get(live.byKey, key)
          const next: Window = current._tag === "Some" && current.value.endsAt > now
            ? { count: current.value.count + cost, endsAt: current.value.endsAt }
            : { count: cost, endsAt: now + Duration.toMillis(window) }
          const verdict = { allowed: next.count <= limit, count: next.count, resetAfterMillis: next.endsAt - now }
          return [verdict, { ...live, byKey: HashMap.set(live.byKey, key, next) }]
        }))
  })
})

export const layerMemory: Layer.Layer<RateLimiter> = Layer.effect(RateLimiter, make)
