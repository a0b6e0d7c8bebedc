/**
 * The RateLimiter contract, run against every adapter with the live clock
 * (the Redis adapter keeps time in Redis, so windows are real, and short).
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import type { Layer } from "effect"
import { RateLimiter } from "../../src/application/ports/RateLimiter.js"

export const rateLimiterContract = (
  adapter: string,
  layer: Layer.Layer<RateLimiter>,
  options: { readonly skip?: boolean } = {}
) =>
  describe.skipIf(options.skip === true)(`RateLimiter contract: ${adapter}`, () => {
    let run = 0
    /** A key no other test (or earlier run) uses. */
    const freshKey = () => `${adapter}-${process.pid}-${Date.now()}-${run++}`
    const window = Duration.seconds(60)

    it.live("allows up to the limit within one window, then refuses", () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter
        const key = freshKey()
        const verdicts = yield* Effect.forEach(
          Array.from({ length: 5 }),
          () => limiter.consume({ key, limit: 3, window })
        )
        expect(verdicts.map((v) => v.allowed)).toEqual([true, true, true, false, false])
        expect(verdicts.map((v) => v.count)).toEqual([1, 2, 3, 4, 5])
        expect(verdicts[0]!.resetAfterMillis).toBeGreaterThan(59_000)
        expect(verdicts[0]!.resetAfterMillis).toBeLessThanOrEqual(60_000)
      }).pipe(Effect.provide(layer)))

    it.live("counts each key on its own", () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter
        const [a, b] = [freshKey(), freshKey()]
        yield* limiter.consume({ key: a, limit: 1, window })
        expect((yield* limiter.consume({ key: a, limit: 1, window })).allowed).toBe(false)
        expect((yield* limiter.consume({ key: b, limit: 1, window })).allowed).toBe(true)
      }).pipe(Effect.provide(layer)))

    it.live("a new window starts from zero once the old one has ended", () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter
        const key = freshKey()
        const short = Duration.millis(800)
        yield* limiter.consume({ key, limit: 1, window: short })
        expect((yield* limiter.consume({ key, limit: 1, window: short })).allowed).toBe(false)
        yield* Effect.sleep(Duration.millis(900))
        const fresh = yield* limiter.consume({ key, limit: 1, window: short })
        expect(fresh.allowed).toBe(true)
        expect(fresh.count).toBe(1)
      }).pipe(Effect.provide(layer)))

    it.live("the window is fixed: hits inside it do not extend it", () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter
        const key = freshKey()
        // The sleep is a lower bound; the window leaves 500 ms for a loaded machine.
        const short = Duration.seconds(1)
        yield* limiter.consume({ key, limit: 10, window: short })
        yield* Effect.sleep(Duration.millis(500))
        const later = yield* limiter.consume({ key, limit: 10, window: short })
        expect(later.resetAfterMillis).toBeLessThanOrEqual(510)
      }).pipe(Effect.provide(layer)))

    it.live("a cost counts as that many hits", () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter
        const key = freshKey()
        expect((yield* limiter.consume({ key, limit: 100, window, cost: 60 })).allowed).toBe(true)
        const over = yield* limiter.consume({ key, limit: 100, window, cost: 60 })
        expect(over).toMatchObject({ allowed: false, count: 120 })
      }).pipe(Effect.provide(layer)))

    it.live("concurrent hits are counted atomically: exactly `limit` are allowed", () =>
      Effect.gen(function*() {
        const limiter = yield* RateLimiter
        const key = freshKey()
        const verdicts = yield* Effect.forEach(
          Array.from({ length: 200 }),
          () => limiter.consume({ key, limit: 50, window }),
          { concurrency: "unbounded" }
        )
        expect(verdicts.filter((v) => v.allowed).length).toBe(50)
        expect(new Set(verdicts.map((v) => v.count)).size).toBe(200)
      }).pipe(Effect.provide(layer)))
  })
