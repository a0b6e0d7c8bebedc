import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, TestClock } from "effect"
import { RateLimiter } from "../../../src/application/ports/RateLimiter.js"
import * as MemoryRateLimiter from "../../../src/adapters/memory/MemoryRateLimiter.js"
import { rateLimiterContract } from "../../contracts/RateLimiter.contract.js"

rateLimiterContract("memory", MemoryRateLimiter.layerMemory)

describe("MemoryRateLimiter", () => {
  it.effect("follows effect's Clock, so TestClock moves its windows", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      const request = { key: "10.0.0.1", limit: 2, window: Duration.seconds(60) }
      yield* limiter.consume(request)
      yield* limiter.consume(request)
      expect((yield* limiter.consume(request)).allowed).toBe(false)
      yield* TestClock.adjust(Duration.seconds(59))
      expect((yield* limiter.consume(request)).allowed).toBe(false)
      yield* TestClock.adjust(Duration.seconds(1))
      expect(yield* limiter.consume(request)).toMatchObject({ allowed: true, count: 1, resetAfterMillis: 60_000 })
    }).pipe(Effect.provide(MemoryRateLimiter.layerMemory)))

  it.effect("prunes ended windows once many keys are tracked", () =>
    Effect.gen(function*() {
      const limiter = yield* RateLimiter
      const window = Duration.seconds(1)
      for (let i = 0; i < 10_001; i++) yield* limiter.consume({ key: `old-${i}`, limit: 1, window })
      yield* TestClock.adjust(Duration.seconds(2))
      yield* limiter.consume({ key: "new", limit: 1, window })
      // old-0 was pruned, so it starts a fresh window rather than continuing an ended one
      expect((yield* limiter.consume({ key: "old-0", limit: 1, window })).count).toBe(1)
    }).pipe(Effect.provide(MemoryRateLimiter.layerMemory)))
})
