import { afterAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import { ConcurrencyLimiter } from "../../../src/application/ports/ConcurrencyLimiter.js"
import * as RedisClient from "../../../src/adapters/redis/RedisClient.js"
import * as RedisConcurrencyLimiter from "../../../src/adapters/redis/RedisConcurrencyLimiter.js"
import { concurrencyLimiterContract } from "../../contracts/ConcurrencyLimiter.contract.js"
import { deleteKeys, redisAvailable, redisUrl } from "../../support/redis.js"

const prefix = `file-receiver-test-${randomUUID()}`
const client = RedisClient.layer(Redacted.make(redisUrl))
const limiter = RedisConcurrencyLimiter.layer(prefix).pipe(Layer.provide(client), Layer.orDie)

afterAll(() => (redisAvailable ? deleteKeys(prefix) : undefined))

concurrencyLimiterContract("redis", limiter, { skip: !redisAvailable })

describe.skipIf(!redisAvailable)("RedisConcurrencyLimiter", () => {
  it.live("two instances (two connections) share one limit", () =>
    Effect.gen(function*() {
      const key = `shared-${randomUUID()}`
      const acquireOnNewInstance = (holder: string) =>
        Effect.flatMap(ConcurrencyLimiter, (l) => l.acquire({ key, holder, limit: 2, ttl: Duration.seconds(60) })).pipe(
          Effect.provide(limiter)
        )
      const granted = yield* Effect.forEach(["a", "b", "c"], acquireOnNewInstance)
      expect(granted).toEqual([true, true, false])
    }))

  it.live("keeps a sorted set at <prefix>:<key> that expires with its longest lease", () =>
    Effect.gen(function*() {
      const leases = yield* ConcurrencyLimiter
      const redis = yield* RedisClient.RedisClient
      const key = `set-${randomUUID()}`
      yield* leases.acquire({ key, holder: "a", limit: 5, ttl: Duration.seconds(60) })
      expect(yield* Effect.promise(() => redis.zcard(`${prefix}:${key}`))).toBe(1)
      expect(yield* Effect.promise(() => redis.pttl(`${prefix}:${key}`))).toBeGreaterThan(58_000)
    }).pipe(Effect.provide(Layer.merge(RedisConcurrencyLimiter.layer(prefix), client).pipe(Layer.provideMerge(client), Layer.orDie))))

  it.live("fails with ConcurrencyLimiterError when Redis stops answering", () =>
    Effect.gen(function*() {
      const leases = yield* ConcurrencyLimiter
      const redis = yield* RedisClient.RedisClient
      redis.disconnect()
      const error = yield* Effect.flip(leases.acquire({ key: "x", holder: "a", limit: 1, ttl: Duration.seconds(1) }))
      expect(error._tag).toBe("ConcurrencyLimiterError")
    }).pipe(Effect.provide(Layer.merge(RedisConcurrencyLimiter.layer(prefix), client).pipe(Layer.provideMerge(client), Layer.orDie))))
})
