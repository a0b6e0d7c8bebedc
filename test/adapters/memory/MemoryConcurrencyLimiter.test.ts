import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, TestClock } from "effect"
import { ConcurrencyLimiter } from "../../../src/application/ports/ConcurrencyLimiter.js"
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

describe("MemoryConcurrencyLimiter pruning", () => {
  it.effect("stays correct across a prune of lapsed keys (over 10,000 tracked)", () =>
    Effect.gen(function*() {
      const limiter = yield* ConcurrencyLimiter
      const ttl = Duration.seconds(1)
      yield* Effect.forEach(Array.from({ length: 10_001 }, (_, i) => `10.0.${i >> 8}.${i & 255}`), (key) =>
        limiter.acquire({ key, holder: "a", limit: 1, ttl }))
      yield* TestClock.adjust(Duration.seconds(2))
      yield* limiter.acquire({ key: "fresh", holder: "a", limit: 1, ttl })
      expect(yield* limiter.count("10.0.0.0")).toBe(0)
      expect(yield* limiter.acquire({ key: "10.0.0.0", holder: "b", limit: 1, ttl })).toBe(true)
    }).pipe(Effect.provide(MemoryConcurrencyLimiter.layerMemory)))
})
