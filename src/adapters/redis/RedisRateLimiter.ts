/**
 * RateLimiter on Redis: one fixed-window counter per key at
 * `<prefix>:<key>`, incremented and given its expiry by one Lua script, so a
 * hit is a single atomic round trip and every instance shares the count.
 */
import { Duration, Effect, Layer } from "effect"
import type { Redis } from "ioredis"
import { RateLimiter, RateLimiterError } from "../../application/ports/RateLimiter.js"
import { RedisClient } from "./RedisClient.js"

/** KEYS[1] counter; ARGV[1] cost, ARGV[2] window in ms. Returns { count, pttl }. */
const FIXED_WINDOW = `
local count = redis.call("INCRBY", KEYS[1], ARGV[1])
local ttl = redis.call("PTTL", KEYS[1])
if ttl < 0 then
  ttl = tonumber(ARGV[2])
  redis.call("PEXPIRE", KEYS[1], ttl)
end
return { count, ttl }
`

interface RedisWithFixedWindow extends Redis {
  fileReceiverFixedWindow(key: string, cost: number, windowMillis: number): Promise<[number, number]>
}

export const make = (prefix: string) =>
  Effect.map(RedisClient, (client) => {
    const redis = client as RedisWithFixedWindow
    if (typeof redis.fileReceiverFixedWindow !== "function") {
      redis.defineCommand("fileReceiverFixedWindow", { numberOfKeys: 1, lua: FIXED_WINDOW })
    }
    return RateLimiter.of({
      consume: ({ cost = 1, key, limit, window }) =>
        Effect.tryPromise({
          try: () => redis.fileReceiverFixedWindow(`${prefix}:${key}`, cost, Math.max(1, Duration.toMillis(window))),
          catch: (cause) => new RateLimiterError({ reason: "Unavailable", cause })
        }).pipe(Effect.map(([count, ttl]) => ({ allowed: count <= limit, count, resetAfterMillis: ttl })))
    })
  })

/** A Redis-backed limiter with keys `<prefix>:<client>`. */
export const layer = (prefix: string): Layer.Layer<RateLimiter, never, RedisClient> =>
  Layer.effect(RateLimiter, make(prefix))
