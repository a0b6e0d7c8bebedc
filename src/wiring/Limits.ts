/**
 * The rate and concurrency limiters, and readiness: in memory, or with
 * REDIS_URL in Redis, with the in-memory limiters as insurance for an
 * outage and Redis among the readiness probes.
 */
import { Effect, Layer, Option } from "effect"
import type { RedisSettings } from "../adapters/config/RedisConfig.js"
import * as MemoryConcurrencyLimiter from "../adapters/memory/MemoryConcurrencyLimiter.js"
import * as MemoryRateLimiter from "../adapters/memory/MemoryRateLimiter.js"
import * as Readiness from "../application/ports/Readiness.js"
import * as LimiterFallback from "../application/resilience/LimiterFallback.js"
import * as Redis from "./Redis.js"

const memoryLimiters = Layer.merge(MemoryRateLimiter.layerMemory, MemoryConcurrencyLimiter.layerMemory)

export const limiters = (redis: Option.Option<RedisSettings>) =>
  Option.match(redis, {
    onNone: () => memoryLimiters,
    onSome: (redis) =>
      LimiterFallback.layer(
        Redis.lazy(
          () => Promise.all([import("../adapters/redis/RedisRateLimiter.js"), import("../adapters/redis/RedisConcurrencyLimiter.js")]),
          ([RedisRateLimiter, RedisConcurrencyLimiter]) =>
            Layer.merge(RedisRateLimiter.layer(redis.rateLimitKeyPrefix), RedisConcurrencyLimiter.layer(`${redis.keyPrefix}:leases`))
        ),
        memoryLimiters
      ).pipe(Redis.onClient(redis))
  })

/** What GET /readyz checks: the storage's probe, and Redis when configured. */
export const readiness = (redis: Option.Option<RedisSettings>) =>
  Option.match(redis, {
    onNone: () => Layer.effect(Readiness.Readiness, Effect.map(Readiness.StorageProbe, (storage) => [storage])),
    onSome: (redis) =>
      Redis.lazy(() => import("../adapters/redis/RedisClient.js"), (RedisClient) =>
        Layer.effect(
          Readiness.Readiness,
          Effect.flatMap(RedisClient.probe, (redisProbe) => Effect.map(Readiness.StorageProbe, (storage) => [storage, redisProbe]))
        )).pipe(Redis.onClient(redis))
  })
