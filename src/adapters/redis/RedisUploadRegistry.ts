/**
 * UploadRegistry on Redis, shared by every instance: a record per upload at
 * `<prefix>:upload:<id>` (expiring with the upload), and a writer claim at
 * `<prefix>:upload-claim:<id>` that its holder renews while it writes. A
 * claim whose holder dies lapses after CLAIM_TTL, so the upload can be
 * resumed on another instance.
 */
import { Duration, Effect, Fiber, Layer, Option, Schedule } from "effect"
import { randomUUID } from "node:crypto"
import type { Redis } from "ioredis"
import { decodeRecord, type UploadRecord, UploadRegistry, UploadRegistryError } from "../../application/ports/UploadRegistry.js"
import { RedisClient } from "./RedisClient.js"

const CLAIM_TTL = Duration.seconds(30)
const CLAIM_RENEW_EVERY = Duration.seconds(10)

/** Deletes the claim only if it is still ours. */
const RELEASE = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("DEL", KEYS[1]) end return 0`
/** Extends the claim only if it is still ours. */
const RENEW = `if redis.call("GET", KEYS[1]) == ARGV[1] then return redis.call("PEXPIRE", KEYS[1], ARGV[2]) end return 0`

const unavailable = (cause: unknown) => new UploadRegistryError({ reason: "Unavailable", cause })

export const make = (options: { readonly prefix: string; readonly expiry: Duration.Duration }) =>
  Effect.map(RedisClient, (redis: Redis) => {
    const recordKey = (id: string) => `${options.prefix}:upload:${id}`
    const claimKey = (id: string) => `${options.prefix}:upload-claim:${id}`
    const call = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: unavailable })

    /** Tokens of the claims this process holds. */
    const held = new Map<string, string>()
    const expiryMillis = Duration.toMillis(options.expiry)
    /** The record lives on while its upload is written: it expires UPLOAD_EXPIRY after the last activity. */
    const keepRecord = (id: string) => call(() => redis.pexpire(recordKey(id), expiryMillis))

    const claim = (id: string) =>
      Effect.gen(function*() {
        const token = randomUUID()
        const ttl = Duration.toMillis(CLAIM_TTL)
        const won = yield* call(() => redis.set(claimKey(id), token, "PX", ttl, "NX"))
        if (won !== "OK") return Option.none<Effect.Effect<void>>()
        held.set(id, token)
        yield* Effect.ignoreLogged(keepRecord(id))
        const renewal = yield* call(() => redis.eval(RENEW, 1, claimKey(id), token, ttl)).pipe(
          // Lost (it lapsed and someone else holds it now): stop pretending to hold it.
          Effect.tap((renewed) => Effect.sync(() => renewed === 0 && held.get(id) === token && held.delete(id))),
          Effect.zipRight(keepRecord(id)),
          Effect.ignore,
          Effect.repeat(Schedule.spaced(CLAIM_RENEW_EVERY)),
          Effect.delay(CLAIM_RENEW_EVERY),
          // Callers may claim inside an uninterruptible region; the renewal must stay interruptible.
          Effect.interruptible,
          Effect.forkDaemon
        )
        return Option.some(
          Fiber.interrupt(renewal).pipe(
            Effect.zipRight(Effect.sync(() => held.get(id) === token && held.delete(id))),
            Effect.zipRight(keepRecord(id)),
            Effect.zipRight(call(() => redis.eval(RELEASE, 1, claimKey(id), token))),
            Effect.ignoreLogged
          )
        )
      })

    return UploadRegistry.of({
      create: (record: UploadRecord) =>
        call(() => redis.set(recordKey(record.uploadId), JSON.stringify(record), "PX", Duration.toMillis(options.expiry))),
      get: (id) =>
        call(() => redis.get(recordKey(id))).pipe(
          Effect.flatMap((text) => (text === null ? Effect.succeedNone : Effect.map(decodeRecord(text), Option.some)))
        ),
      // Kept for the expiry from its completion, like an unfinished one from its last activity.
      complete: (record) =>
        call(() => redis.set(recordKey(record.uploadId), JSON.stringify(record), "PX", Duration.toMillis(options.expiry))),
      // Records expire in Redis by themselves (PX): nothing for the sweep to find.
      list: Effect.succeed([]),
      remove: (id) => call(() => redis.del(recordKey(id))),
      claim,
      holds: (id) => {
        const token = held.get(id)
        return token === undefined ? Effect.succeed(false) : Effect.map(call(() => redis.get(claimKey(id))), (current) => current === token)
      }
    })
  })

export const layer = (options: { readonly prefix: string; readonly expiry: Duration.Duration }): Layer.Layer<UploadRegistry, never, RedisClient> =>
  Layer.effect(UploadRegistry, make(options))
