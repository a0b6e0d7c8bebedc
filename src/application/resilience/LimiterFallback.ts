/**
 * Insurance for the shared limiters: while the primary RateLimiter and
 * ConcurrencyLimiter (Redis) cannot be reached, every limit is enforced by a
 * local fallback (in memory) instead, so an outage neither stops the service
 * nor opens it up. The outage is logged once when it starts and once when it
 * ends (OutageLog); each failed call is counted in rate_limiter_errors_total.
 * While it lasts, the primary is tried again at most once per
 * `PROBE_INTERVAL_MILLIS`; the first answer switches back to it. Counts do
 * not carry over between the two: each starts from what it holds.
 */
import { Clock, Context, Effect, Either, Layer, Metric, Ref } from "effect"
import { ConcurrencyLimiter } from "../ports/ConcurrencyLimiter.js"
import * as Metrics from "../infrastructure/Metrics.js"
import * as OutageLog from "./OutageLog.js"
import { RateLimiter } from "../ports/RateLimiter.js"

export const PROBE_INTERVAL_MILLIS = 1_000

type Limiters = RateLimiter | ConcurrencyLimiter

const make = (primary: Context.Context<Limiters>, fallback: Context.Context<Limiters>) =>
  Effect.gen(function*() {
    /** While the primary is down: when it may be tried again (0 while it answers). */
    const probeAt = yield* Ref.make(0)
    const outage = yield* OutageLog.make({
      down: "limiter store unavailable; enforcing limits in memory on this instance until it is back",
      up: "limiter store available again; limits are shared again"
    })

    /** Runs `onPrimary`, or `onFallback` while the primary is known to be down or when it fails. */
    const insured = <A, E extends { readonly message: string }>(
      onPrimary: Effect.Effect<A, E>,
      onFallback: Effect.Effect<A>
    ): Effect.Effect<A> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        if (now < (yield* Ref.get(probeAt))) return yield* onFallback
        const result = yield* Effect.either(onPrimary)
        if (Either.isRight(result)) {
          yield* Ref.set(probeAt, 0)
          yield* outage.up
          return result.right
        }
        yield* Metric.increment(Metrics.rateLimiterErrors)
        yield* Ref.set(probeAt, now + PROBE_INTERVAL_MILLIS)
        yield* outage.down(result.left)
        return yield* onFallback
      })

    const [rates, leases] = [Context.get(primary, RateLimiter), Context.get(primary, ConcurrencyLimiter)]
    const [localRates, localLeases] = [Context.get(fallback, RateLimiter), Context.get(fallback, ConcurrencyLimiter)]
    const orDie = <A, E>(effect: Effect.Effect<A, E>) => Effect.orDie(effect)
    return Context.make(
      RateLimiter,
      RateLimiter.of({
        consume: (request) => insured(rates.consume(request), orDie(localRates.consume(request)))
      })
    ).pipe(Context.add(
      ConcurrencyLimiter,
      ConcurrencyLimiter.of({
        acquire: (request) => insured(leases.acquire(request), orDie(localLeases.acquire(request))),
        // A release goes to both: a lease may have been taken by either.
        release: (key, holder) =>
          Effect.zipRight(insured(leases.release(key, holder), Effect.void), orDie(localLeases.release(key, holder))),
        count: (key) => insured(leases.count(key), orDie(localLeases.count(key)))
      })
    ))
  })

/**
 * The limiters of `primary`, falling back to those of `fallback` (which must
 * not fail: in-memory ones) whenever the primary's store is unreachable.
 */
export const layer = <E, R>(
  primary: Layer.Layer<Limiters, E, R>,
  fallback: Layer.Layer<Limiters>
): Layer.Layer<Limiters, E, R> =>
  Layer.scopedContext(
    Effect.gen(function*() {
      const primaryContext = yield* Layer.build(primary)
      const fallbackContext = yield* Layer.build(fallback)
      return yield* make(primaryContext, fallbackContext)
    })
  )
