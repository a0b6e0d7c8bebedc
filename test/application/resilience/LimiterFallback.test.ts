/**
 * LimiterFallback with a primary whose store can be switched off: limits hold
 * during the outage (enforced by the fallback), the outage is logged once,
 * and the primary takes over again once it answers.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Ref, TestClock } from "effect"
import * as MemoryConcurrencyLimiter from "../../../src/adapters/memory/MemoryConcurrencyLimiter.js"
import * as MemoryRateLimiter from "../../../src/adapters/memory/MemoryRateLimiter.js"
import { ConcurrencyLimiter, ConcurrencyLimiterError } from "../../../src/application/ports/ConcurrencyLimiter.js"
import * as LimiterFallback from "../../../src/application/resilience/LimiterFallback.js"
import { RateLimiter, RateLimiterError } from "../../../src/application/ports/RateLimiter.js"
import { type LogLine, recordingLogger } from "../../support/logs.js"

/** A memory primary that fails every call while `down` is true. */
const switchable = (down: Ref.Ref<boolean>) => {
  const unless = <A, E>(effect: Effect.Effect<A, E>, error: () => E) =>
    Effect.flatMap(Ref.get(down), (isDown) => (isDown ? Effect.fail(error()) : effect))
  const rateError = () => new RateLimiterError({ reason: "Unavailable", cause: "connection refused" })
  const leaseError = () => new ConcurrencyLimiterError({ reason: "Unavailable", cause: "connection refused" })
  return Layer.merge(
    Layer.effect(RateLimiter, Effect.map(MemoryRateLimiter.make, (rates) => ({
      consume: (request) => unless(rates.consume(request), rateError)
    }))),
    Layer.effect(ConcurrencyLimiter, Effect.map(MemoryConcurrencyLimiter.make, (leases) => ({
      acquire: (request) => unless(leases.acquire(request), leaseError),
      release: (key, holder) => unless(leases.release(key, holder), leaseError),
      count: (key) => unless(leases.count(key), leaseError)
    })))
  )
}

describe("LimiterFallback", () => {
  it.scoped("during an outage limits are enforced in memory, logged once, and the primary takes over when it is back", () =>
    Effect.gen(function*() {
      const down = yield* Ref.make(false)
      const logged: Array<LogLine> = []
      const logger = recordingLogger(logged)
      const lines = () => logged.map((line) => line.message)
      const context = yield* Layer.build(
        LimiterFallback.layer(switchable(down), Layer.merge(MemoryRateLimiter.layerMemory, MemoryConcurrencyLimiter.layerMemory))
      )
      const run = <A, E>(effect: Effect.Effect<A, E, RateLimiter | ConcurrencyLimiter>) =>
        effect.pipe(Effect.provide(context), Effect.provide(logger))
      const request = { key: "192.0.2.1", limit: 3, window: Duration.seconds(60) }
      const consume = run(Effect.flatMap(RateLimiter, (l) => l.consume(request)))

      expect((yield* consume).count).toBe(1)
      yield* Ref.set(down, true)
      const during = yield* Effect.forEach(Array.from({ length: 4 }), () => consume)
      expect(during.map((v) => v.allowed)).toEqual([true, true, true, false])
      const lease = { key: "connections", holder: "h1", limit: 1, ttl: Duration.seconds(30) }
      expect(yield* run(Effect.flatMap(ConcurrencyLimiter, (l) => l.acquire(lease)))).toBe(true)
      expect(yield* run(Effect.flatMap(ConcurrencyLimiter, (l) => l.acquire({ ...lease, holder: "h2" })))).toBe(false)
      expect(lines().filter((line) => line.includes("unavailable")).length).toBe(1)

      yield* Ref.set(down, false)
      // Still within the probe interval: the fallback answers.
      expect((yield* consume).count).toBe(5)
      yield* TestClock.adjust(Duration.millis(LimiterFallback.PROBE_INTERVAL_MILLIS))
      expect((yield* consume).count).toBe(2)
      expect(lines()).toEqual([
        "limiter store unavailable; enforcing limits in memory on this instance until it is back",
        "limiter store available again; limits are shared again"
      ])
    }))
})
