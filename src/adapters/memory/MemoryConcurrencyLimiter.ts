/**
 * In-process ConcurrencyLimiter: leases in memory, for a single instance (the
 * embedded default), as the insurance behind the Redis limiter during an
 * outage, and for tests. Time comes from effect's Clock, so TestClock drives
 * the lapsing of leases. A key's lapsed leases are dropped when they could
 * change an answer (the key is at its limit, or is counted); a key left with
 * no lease is dropped then and on release, and keys whose leases have all
 * lapsed are dropped now and then once many keys are tracked (see
 * PRUNE_THRESHOLD).
 */
import { Duration, Effect, Layer } from "effect"
import { ConcurrencyLimiter } from "../../application/ports/ConcurrencyLimiter.js"

/** Above this many keys, those whose leases have all lapsed are dropped, at most once per `PRUNE_INTERVAL_MILLIS`. */
const PRUNE_THRESHOLD = 10_000
const PRUNE_INTERVAL_MILLIS = 1_000

/** Drops the lapsed leases of one key; how many are left. */
const dropLapsed = (held: Map<string, number>, now: number): number => {
  for (const [holder, lapsesAt] of held) if (lapsesAt <= now) held.delete(holder)
  return held.size
}

export const make = Effect.sync(() => {
  // holder -> when its lease lapses (ms since the epoch), per key. Every connection and upload takes leases,
  // so these are plain Maps, changed only within one synchronous step (each call is atomic). A key's lapsed
  // leases are dropped only when they could matter: when the key is at its limit, or when counting.
  const leases = new Map<string, Map<string, number>>()
  let prunedAt = 0
  const prune = (now: number) => {
    if (leases.size <= PRUNE_THRESHOLD || now - prunedAt < PRUNE_INTERVAL_MILLIS) return
    prunedAt = now
    for (const [key, held] of leases) if (dropLapsed(held, now) === 0) leases.delete(key)
  }
  return ConcurrencyLimiter.of({
    acquire: ({ holder, key, limit, ttl }) =>
      Effect.clockWith((clock) =>
        Effect.sync(() => {
          const now = clock.unsafeCurrentTimeMillis()
          prune(now)
          const lapsesAt = now + Duration.toMillis(ttl)
          const held = leases.get(key)
          if (held === undefined) {
            if (limit <= 0) return false
            leases.set(key, new Map([[holder, lapsesAt]]))
            return true
          }
          const own = held.get(holder)
          // A holder with an unlapsed lease renews it, whatever the count.
          if (!(own !== undefined && own > now) && held.size >= limit && dropLapsed(held, now) >= limit) {
            if (held.size === 0) leases.delete(key)
            return false
          }
          held.set(holder, lapsesAt)
          return true
        })
      ),
    release: (key, holder) =>
      Effect.sync(() => {
        const held = leases.get(key)
        if (held !== undefined && held.delete(holder) && held.size === 0) leases.delete(key)
      }),
    count: (key) =>
      Effect.clockWith((clock) =>
        Effect.sync(() => {
          const held = leases.get(key)
          if (held === undefined) return 0
          const left = dropLapsed(held, clock.unsafeCurrentTimeMillis())
          if (left === 0) leases.delete(key)
          return left
        })
      )
  })
})

export const layerMemory: Layer.Layer<ConcurrencyLimiter> = Layer.effect(ConcurrencyLimiter, make)
