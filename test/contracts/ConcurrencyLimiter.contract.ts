/**
 * The ConcurrencyLimiter contract, run against every adapter with the live
 * clock (the Redis adapter keeps time in Redis, so leases lapse for real;
 * the lapsing tests use short ttls).
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import type { Layer } from "effect"
import { ConcurrencyLimiter } from "../../src/application/ports/ConcurrencyLimiter.js"

export const concurrencyLimiterContract = (
  adapter: string,
  layer: Layer.Layer<ConcurrencyLimiter>,
  options: { readonly skip?: boolean } = {}
) =>
  describe.skipIf(options.skip === true)(`ConcurrencyLimiter contract: ${adapter}`, () => {
    let run = 0
    /** A key no other test (or earlier run) uses. */
    const freshKey = () => `${adapter}-${process.pid}-${Date.now()}-${run++}`
    const ttl = Duration.seconds(60)

    it.live("grants up to `limit` holders, then refuses, and a release frees a slot", () =>
      Effect.gen(function*() {
        const limiter = yield* ConcurrencyLimiter
        const key = freshKey()
        const granted = yield* Effect.forEach(["a", "b", "c", "d"], (holder) => limiter.acquire({ key, holder, limit: 3, ttl }))
        expect(granted).toEqual([true, true, true, false])
        expect(yield* limiter.count(key)).toBe(3)
        yield* limiter.release(key, "b")
        expect(yield* limiter.count(key)).toBe(2)
        expect(yield* limiter.acquire({ key, holder: "d", limit: 3, ttl })).toBe(true)
        expect(yield* limiter.acquire({ key, holder: "e", limit: 3, ttl })).toBe(false)
      }).pipe(Effect.provide(layer)))

    it.live("a holder acquiring again renews its lease without taking a second slot, even when full", () =>
      Effect.gen(function*() {
        const limiter = yield* ConcurrencyLimiter
        const key = freshKey()
        yield* limiter.acquire({ key, holder: "a", limit: 2, ttl })
        yield* limiter.acquire({ key, holder: "b", limit: 2, ttl })
        expect(yield* limiter.acquire({ key, holder: "a", limit: 2, ttl })).toBe(true)
        expect(yield* limiter.count(key)).toBe(2)
      }).pipe(Effect.provide(layer)))

    it.live("counts each key on its own; releasing an unknown holder does nothing", () =>
      Effect.gen(function*() {
        const limiter = yield* ConcurrencyLimiter
        const [a, b] = [freshKey(), freshKey()]
        expect(yield* limiter.acquire({ key: a, holder: "x", limit: 1, ttl })).toBe(true)
        expect(yield* limiter.acquire({ key: b, holder: "y", limit: 1, ttl })).toBe(true)
        yield* limiter.release(a, "nobody")
        yield* limiter.release(freshKey(), "nobody")
        expect(yield* limiter.count(a)).toBe(1)
        expect(yield* limiter.count(freshKey())).toBe(0)
      }).pipe(Effect.provide(layer)))

    it.live("a lease that is not renewed lapses after its ttl and frees its slot (a crashed holder)", () =>
      Effect.gen(function*() {
        const limiter = yield* ConcurrencyLimiter
        const key = freshKey()
        // Sleeps are lower bounds: "crashed" has surely lapsed at the count
        // (500 + 600 ms after its 1 s lease began); "renewed" keeps a 400 ms
        // margin for a slow or loaded machine between its renewal and the count.
        const short = Duration.seconds(1)
        yield* limiter.acquire({ key, holder: "crashed", limit: 1, ttl: short })
        yield* limiter.acquire({ key, holder: "renewed", limit: 2, ttl: short })
        expect(yield* limiter.acquire({ key, holder: "other", limit: 2, ttl })).toBe(false)
        yield* Effect.sleep(Duration.millis(500))
        yield* limiter.acquire({ key, holder: "renewed", limit: 2, ttl: short })
        yield* Effect.sleep(Duration.millis(600))
        expect(yield* limiter.count(key)).toBe(1)
        expect(yield* limiter.acquire({ key, holder: "other", limit: 2, ttl })).toBe(true)
      }).pipe(Effect.provide(layer)))

    it.live("concurrent acquisitions are atomic: exactly `limit` holders get a slot", () =>
      Effect.gen(function*() {
        const limiter = yield* ConcurrencyLimiter
        const key = freshKey()
        const granted = yield* Effect.forEach(
          Array.from({ length: 100 }, (_, i) => `holder-${i}`),
          (holder) => limiter.acquire({ key, holder, limit: 25, ttl }),
          { concurrency: "unbounded" }
        )
        expect(granted.filter((taken) => taken).length).toBe(25)
        expect(yield* limiter.count(key)).toBe(25)
      }).pipe(Effect.provide(layer)))
  })
