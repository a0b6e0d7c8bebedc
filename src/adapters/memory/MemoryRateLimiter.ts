/**
 * In-process RateLimiter: fixed windows in memory, for a single instance (the
 * embedded default) and for tests. Time comes from effect's Clock, so
 * TestClock drives it. Expired windows are pruned as the map grows.
 */
import { Duration, Effect, Layer } from "effect"
import { RateLimiter } from "../../application/ports/RateLimiter.js"

interface Window {
  count: number
  readonly endsAt: number
}

/** Above this many tracked keys, ended windows are dropped, at most once per `PRUNE_INTERVAL_MILLIS`. */
const PRUNE_THRESHOLD = 10_000
const PRUNE_INTERVAL_MILLIS = 1_000

export const make = Effect.sync(() => {
  // Every frame counts here, so the windows are a plain Map, changed in place within one synchronous step
  // (nothing else runs in between, so each consume is atomic). It is created with the layer: fresh per test.
  const windows = new Map<string, Window>()
  let prunedAt = 0
  const prune = (now: number) => {
    if (windows.size <= PRUNE_THRESHOLD || now - prunedAt < PRUNE_INTERVAL_MILLIS) return
    prunedAt = now
    for (const [key, window] of windows) if (window.endsAt <= now) windows.delete(key)
  }
  return RateLimiter.of({
    consume: ({ cost = 1, key, limit, window }) =>
      Effect.clockWith((clock) =>
        Effect.sync(() => {
          const now = clock.unsafeCurrentTimeMillis()
          prune(now)
          let current = windows.get(key)
          if (current !== undefined && current.endsAt > now) {
            current.count += cost
          } else {
            current = { count: cost, endsAt: now + Duration.toMillis(window) }
            windows.set(key, current)
          }
          return { allowed: current.count <= limit, count: current.count, resetAfterMillis: current.endsAt - now }
        })
      )
  })
})

export const layerMemory: Layer.Layer<RateLimiter> = Layer.effect(RateLimiter, make)
