/**
 * In-process ConcurrencyLimiter: leases in a Ref, for a single instance (the
 * embedded default), as the insurance behind the Redis limiter during an
 * outage, and for tests. Time comes from effect's Clock, so TestClock drives
 * the lapsing of leases. Keys left without leases are dropped when touched,
 * and all at once when many keys are tracked.
 */
import { Clock, Duration, Effect, HashMap, Layer, Ref } from "effect"
import { ConcurrencyLimiter } from "../../application/ConcurrencyLimiter.js"

/** holder -> when its lease lapses (ms since the epoch), per key. */
type Leases = HashMap.HashMap<string, HashMap.HashMap<string, number>>

const live = (leases: Leases, key: string, now: number) =>
  HashMap.filter(HashMap.get(leases, key).pipe((held) => held._tag === "Some" ? held.value : HashMap.empty<string, number>()), (lapsesAt) => lapsesAt > now)

const store = (leases: Leases, key: string, held: HashMap.HashMap<string, number>): Leases =>
  HashMap.size(held) === 0 ? HashMap.remove(leases, key) : HashMap.set(leases, key, held)

/** Above this many keys, those whose leases have all lapsed are dropped. */
const PRUNE_THRESHOLD = 10_000

const prune = (leases: Leases, now: number): Leases =>
  HashMap.size(leases) <= PRUNE_THRESHOLD
    ? leases
    : HashMap.filter(leases, (held) => HashMap.some(held, (lapsesAt) => lapsesAt > now))

export const make = Effect.gen(function*() {
  const state = yield* Ref.make<Leases>(HashMap.empty())
  return ConcurrencyLimiter.of({
    acquire: ({ holder, key, limit, ttl }) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.modify(state, (all) => {
          const leases = prune(all, now)
          const held = live(leases, key, now)
          if (!HashMap.has(held, holder) && HashMap.size(held) >= limit) return [false, store(leases, key, held)]
          return [true, store(leases, key, HashMap.set(held, holder, now + Duration.toMillis(ttl)))]
        })),
    release: (key, holder) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.update(state, (leases) => store(leases, key, HashMap.remove(live(leases, key, now), holder)))),
    count: (key) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.map(Ref.get(state), (leases) => HashMap.size(live(leases, key, now))))
  })
})

export const layerMemory: Layer.Layer<ConcurrencyLimiter> = Layer.effect(ConcurrencyLimiter, make)
