import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, TestClock } from "effect"
import { ConcurrencyLimiter } from "../../../src/application/ConcurrencyLimiter.js"
import * as MemoryConcurrencyLimiter from "../../../src/adapters/memory/MemoryConcurrencyLimiter.js"
import { concurrencyLimiterContract } from "../../contracts/ConcurrencyLimiter.contract.js"

concurrencyLimiterContract("memory", MemoryConcurrencyLimiter.layerMemory)

describe("MemoryConcurrencyLimiter", () => {
  it.effect("follows effect's Clock, so TestClock lapses its leases", () =>
    Effect.gen(function*() {
      const limiter = yield* ConcurrencyLimiter
      const request = { key: "10.0.0.1", holder: "a", limit: 1, ttl: Duration.seconds(30) }
      yield* limiter.acquire(request)
      expect(yield* limiter.acquire({ ...request, holder: "b" })).toBe(false)
      yield* TestClock.adjust(Duration.seconds(29))
      expect(yield* limiter.acquire({ ...request, holder: "b" })).toBe(false)
      yield* TestClock.adjust(Duration.seconds(1))
      expect(yield* limiter.acquire({ ...request, holder: "b" })).toBe(true)
    }).pipe(Effect.provide(MemoryConcurrencyLimiter.layerMemory)))
})
