import { afterAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import { RateLimiter } from "../../../src/application/ports/RateLimiter.js"
import * as RedisClient from "../../../src/adapters/redis/RedisClient.js"
import * as RedisRateLimiter from "../../../src/adapters/redis/RedisRateLimiter.js"
import { rateLimiterContract } from "../../contracts/RateLimiter.contract.js"
import { deleteKeys, redisAvailable, redisUrl } from "../../support/redis.js"

const prefix = `file-receiver-test-${randomUUID()}`
const client = RedisClient.layer(Redacted.make(redisUrl))
const limiter = RedisRateLimiter.layer(prefix).pipe(Layer.provide(client), Layer.orDie)

afterAll(() => (redisAvailable ? deleteKeys(prefix) : undefined))

rateLimiterContract("redis", limiter, { skip: !redisAvailable })

describe.skipIf(!redisAvailable)("RedisRateLimiter", () => {
  it.live("keeps its count at <prefix>:<key> with the window as the key's expiry", () =>
    Effect.gen(function*() {
      const rateLimiter = yield* RateLimiter
      const redis = yield* RedisClient.RedisClient
      yield* rateLimiter.consume({ key: "203.0.113.9", limit: 10, window: Duration.seconds(60) })
      yield* rateLimiter.consume({ key: "203.0.113.9", limit: 10, window: Duration.seconds(60) })
      expect(yield* Effect.promise(() => redis.get(`${prefix}:203.0.113.9`))).toBe("2")
      const ttl = yield* Effect.promise(() => redis.pttl(`${prefix}:203.0.113.9`))
      expect(ttl).toBeGreaterThan(58_000)
    }).pipe(Effect.provide(Layer.merge(RedisRateLimiter.layer(prefix), client).pipe(Layer.provideMerge(client), Layer.orDie))))

  it.live("two instances (two connections) share one count", () =>
    Effect.gen(function*() {
      const key = `shared-${randomUUID()}`
      const request = { key, limit: 3, window: Duration.seconds(60) }
      const consumeOnNewInstance = Effect.flatMap(RateLimiter, (l) => l.consume(request)).pipe(Effect.provide(limiter))
      const verdicts = yield* Effect.forEach(Array.from({ length: 4 }), () => consumeOnNewInstance)
      expect(verdicts.map((v) => v.allowed)).toEqual([true, true, true, false])
    }))

  it.live("fails with RateLimiterError when Redis stops answering", () =>
    Effect.gen(function*() {
      const rateLimiter = yield* RateLimiter
      const redis = yield* RedisClient.RedisClient
      redis.disconnect()
      const error = yield* Effect.flip(rateLimiter.consume({ key: "x", limit: 1, window: Duration.seconds(1) }))
      expect(error._tag).toBe("RateLimiterError")
    }).pipe(Effect.provide(Layer.merge(RedisRateLimiter.layer(prefix), client).pipe(Layer.provideMerge(client), Layer.orDie))))

  it.effect("start-up fails with a clear message when Redis cannot be reached", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(RedisClient.layer(Redacted.make("redis://:secret@127.0.0.1:1/0"))).pipe(Effect.scoped))
      expect(error.message).toMatch(/^Cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0: .*ECONNREFUSED/)
      expect(error.message).not.toContain("secret")
    }))
})
