/**
 * ConcurrencyLimiter on Redis: one sorted set per key at `<prefix>:<key>`,
 * holder -> when its lease lapses (Redis's own clock, so instances need not
 * agree on time). One Lua script drops lapsed leases, checks the count and
 * adds or renews the lease, so every instance shares one atomic limit. A
 * crashed instance leaves only leases that lapse within their ttl; the set
 * itself expires with its longest lease.
 */
import { Duration, Effect, Layer } from "effect"
import type { Redis } from "ioredis"
import { ConcurrencyLimiter, ConcurrencyLimiterError } from "../../application/ports/ConcurrencyLimiter.js"
import { RedisClient } from "./RedisClient.js"

const NOW = `
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", now)
`

/** KEYS[1] the set; ARGV[1] holder, ARGV[2] limit, ARGV[3] ttl in ms. Returns 1 when taken, 0 when full. */
const ACQUIRE = `${NOW}
local ttl = tonumber(ARGV[3])
if not redis.call("ZSCORE", KEYS[1], ARGV[1]) and redis.call("ZCARD", KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call("ZADD", KEYS[1], now + ttl, ARGV[1])
if redis.call("PTTL", KEYS[1]) < ttl then redis.call("PEXPIRE", KEYS[1], ttl) end
return 1
`

/** KEYS[1] the set. Returns the number of unlapsed leases. */
const COUNT = `${NOW}
return redis.call("ZCARD", KEYS[1])
`

interface RedisWithLeases extends Redis {
  fileReceiverAcquireLease(key: string, holder: string, limit: number, ttlMillis: number): Promise<number>
  fileReceiverCountLeases(key: string): Promise<number>
}

const unavailable = (cause: unknown) => new ConcurrencyLimiterError({ reason: "Unavailable", cause })

export const make = (prefix: string) =>
  Effect.map(RedisClient, (client) => {
    const redis = client as RedisWithLeases
    if (typeof redis.fileReceiverAcquireLease !== "function") {
      redis.defineCommand("fileReceiverAcquireLease", { numberOfKeys: 1, lua: ACQUIRE })
      redis.defineCommand("fileReceiverCountLeases", { numberOfKeys: 1, lua: COUNT })
    }
    return ConcurrencyLimiter.of({
      acquire: ({ holder, key, limit, ttl }) =>
        Effect.tryPromise({
          try: () => redis.fileReceiverAcquireLease(`${prefix}:${key}`, holder, limit, Math.max(1, Duration.toMillis(ttl))),
          catch: unavailable
        }).pipe(Effect.map((taken) => taken === 1)),
      release: (key, holder) =>
        Effect.tryPromise({ try: () => redis.zrem(`${prefix}:${key}`, holder), catch: unavailable }).pipe(Effect.asVoid),
      count: (key) => Effect.tryPromise({ try: () => redis.fileReceiverCountLeases(`${prefix}:${key}`), catch: unavailable })
    })
  })

/** A Redis-backed limiter with sets `<prefix>:<key>`. */
export const layer = (prefix: string): Layer.Layer<ConcurrencyLimiter, never, RedisClient> =>
  Layer.effect(ConcurrencyLimiter, make(prefix))
