/**
 * What the new per-connection checks cost against a real Redis: the latency
 * of a connection admission (two lease acquisitions) and its release, and of
 * one frame's rate-limit check (messages and bytes), measured over many
 * sequential operations. `REDIS_URL` (default redis://127.0.0.1:6379),
 * `LIMITS_OPS` (default 2000). Keys use a random prefix and are deleted.
 */
import { Duration, Effect, Exit, Layer, Option, Redacted, Scope } from "effect"
import { randomUUID } from "node:crypto"
import * as RedisClient from "../src/adapters/redis/RedisClient.js"
import * as RedisConcurrencyLimiter from "../src/adapters/redis/RedisConcurrencyLimiter.js"
import * as RedisRateLimiter from "../src/adapters/redis/RedisRateLimiter.js"
import * as ConnectionLimits from "../src/application/limits/ConnectionAdmission.js"
import { RateLimiter } from "../src/application/ports/RateLimiter.js"

const url = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"
const ops = Number(process.env["LIMITS_OPS"] ?? "2000")
const prefix = `bench-limits-${randomUUID()}`

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!

const time = <A, E, R>(label: string, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const samples: Array<number> = []
    for (let i = 0; i < ops; i++) {
      const started = process.hrtime.bigint()
      yield* effect
      samples.push(Number(process.hrtime.bigint() - started) / 1e6)
    }
    samples.sort((a, b) => a - b)
    console.log(`${label}: median ${percentile(samples, 0.5).toFixed(3)} ms, p99 ${percentile(samples, 0.99).toFixed(3)} ms (${ops} ops)`)
  })

const program = Effect.gen(function*() {
  const limiter = yield* RateLimiter
  const window = Duration.seconds(60)
  const admission = yield* ConnectionLimits.make({ perClient: 1_000_000, total: 1_000_000 })
  yield* time("connection admission + release (2 leases)", Effect.gen(function*() {
    const scope = yield* Scope.make()
    const refused = yield* Scope.extend(admission.admit("192.0.2.1"), scope)
    if (Option.isSome(refused)) return yield* Effect.die(refused.value)
    yield* Scope.close(scope, Exit.void)
  }))
  yield* time("frame check: messages only", limiter.consume({ key: "192.0.2.1", limit: 1e12, window }))
  yield* time(
    "frame check: messages + bytes (concurrent)",
    Effect.all([
      limiter.consume({ key: "192.0.2.1", limit: 1e12, window }),
      limiter.consume({ key: "bytes:192.0.2.1", limit: 1e12, window, cost: 262144 })
    ], { concurrency: 2 })
  )
  yield* time(
    "frame check: messages + bytes (sequential)",
    Effect.all([
      limiter.consume({ key: "192.0.2.1", limit: 1e12, window }),
      limiter.consume({ key: "bytes:192.0.2.1", limit: 1e12, window, cost: 262144 })
    ])
  )
  const redis = yield* RedisClient.RedisClient
  const keys = yield* Effect.promise(() => redis.keys(`${prefix}*`))
  if (keys.length > 0) yield* Effect.promise(() => redis.del(...keys))
})

const client = RedisClient.layer(Redacted.make(url))
Effect.runPromise(program.pipe(
  Effect.provide(Layer.mergeAll(RedisRateLimiter.layer(prefix), RedisConcurrencyLimiter.layer(prefix)).pipe(Layer.provideMerge(client))),
  Effect.scoped
)).catch((error) => {
  console.error(error)
  process.exit(1)
})
