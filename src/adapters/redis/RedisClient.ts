/**
 * One shared ioredis connection per process, acquired with the layer and
 * closed (`quit`) when it is released. Start-up fails with a clear error when
 * Redis cannot be reached, rather than queueing commands forever.
 */
import { Context, Data, Effect, Layer, Redacted } from "effect"
import { Redis } from "ioredis"
import type * as Readiness from "../../application/ports/Readiness.js"

export class RedisConnectionError extends Data.TaggedError("RedisConnectionError")<{
  readonly url: string
  readonly cause: unknown
}> {
  override get message(): string {
    return `Cannot reach Redis at ${this.url}: ${this.cause instanceof Error ? this.cause.message : String(this.cause)}`
  }
}

export class RedisClient extends Context.Tag("file-receiver/RedisClient")<RedisClient, Redis>() {}

/** The URL with any password masked, for messages and logs. */
const safeUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return "(unparseable REDIS_URL)"
  }
}

export const layer = (url: Redacted.Redacted<string>): Layer.Layer<RedisClient, RedisConnectionError> =>
  Layer.scoped(
    RedisClient,
    Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const redis = new Redis(Redacted.value(url), {
            lazyConnect: true,
            // Fail commands fast while disconnected instead of queueing them; callers decide what to do.
            enableOfflineQueue: false,
            maxRetriesPerRequest: 1,
            connectTimeout: 5_000,
            commandTimeout: 2_000,
            retryStrategy: (attempt) => Math.min(attempt * 200, 2_000)
          })
          let lastError: unknown
          redis.on("error", (error) => {
            // Reconnection is automatic; failures surface on the commands that need Redis.
            lastError = error
          })
          try {
            await redis.connect()
            await redis.ping()
          } catch (cause) {
            redis.disconnect()
            throw lastError ?? cause
          }
          return redis
        },
        catch: (cause) => new RedisConnectionError({ url: safeUrl(Redacted.value(url)), cause })
      }),
      (redis) => Effect.promise(() => redis.quit().catch(() => redis.disconnect()))
    )
  )

/** Readiness probe: Redis answers PING. */
export const probe: Effect.Effect<Readiness.Probe, never, RedisClient> = Effect.map(RedisClient, (redis) => ({
  name: "redis",
  check: Effect.tryPromise({
    try: () => redis.ping(),
    catch: (cause) => `redis not answering: ${cause instanceof Error ? cause.message : String(cause)}`
  })
}))
