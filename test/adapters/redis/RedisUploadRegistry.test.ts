import { afterAll, describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Layer, Option, Redacted, Scope } from "effect"
import { randomUUID } from "node:crypto"
import { UploadRegistry } from "../../../src/application/ports/UploadRegistry.js"
import * as RedisClient from "../../../src/adapters/redis/RedisClient.js"
import * as RedisUploadRegistry from "../../../src/adapters/redis/RedisUploadRegistry.js"
import { freshUploadId, recordFor, uploadRegistryContract } from "../../contracts/UploadRegistry.contract.js"
import { deleteKeys, redisAvailable, redisUrl } from "../../support/redis.js"

const prefix = `file-receiver-test-${randomUUID()}`
const expiry = Duration.hours(1)
/** The adapter's claim lifetime (CLAIM_TTL in RedisUploadRegistry.ts). */
const CLAIM_TTL_MILLIS = 30_000

const recordKey = (id: string) => `${prefix}:upload:${id}`
const claimKey = (id: string) => `${prefix}:upload-claim:${id}`

/** A new connection each time the layer is built. */
const client = RedisClient.layer(Redacted.make(redisUrl))
/** A registry instance with its own connection (another server instance). */
const registry = RedisUploadRegistry.layer({ prefix, expiry }).pipe(Layer.provide(client), Layer.orDie)
/** A registry and the connection it uses, to look at the keys. */
const registryWithClient = RedisUploadRegistry.layer({ prefix, expiry }).pipe(Layer.provideMerge(client), Layer.orDie)

afterAll(() => (redisAvailable ? deleteKeys(prefix) : undefined))

uploadRegistryContract("redis", registry, { skip: !redisAvailable })

describe.skipIf(!redisAvailable)("RedisUploadRegistry", () => {
  /** Builds an independent instance (own connection) that lives until `scope` closes. */
  const instance = (scope: Scope.Scope) =>
    Effect.map(Layer.buildWithScope(registryWithClient, scope), (context) => ({
      registry: Context.get(context, UploadRegistry),
      redis: Context.get(context, RedisClient.RedisClient)
    }))

  it.live("keeps the record at <prefix>:upload:<id>, expiring after the upload expiry", () =>
    Effect.gen(function*() {
      const registry = yield* UploadRegistry
      const redis = yield* RedisClient.RedisClient
      const record = recordFor(freshUploadId(), { expectedSha256: "ef".repeat(32) })
      yield* registry.create(record)
      expect(JSON.parse((yield* Effect.promise(() => redis.get(recordKey(record.uploadId))))!)).toEqual(record)
      const ttl = yield* Effect.promise(() => redis.pttl(recordKey(record.uploadId)))
      expect(ttl).toBeGreaterThan(Duration.toMillis(expiry) - 60_000)
      expect(ttl).toBeLessThanOrEqual(Duration.toMillis(expiry))
      yield* registry.remove(record.uploadId)
      expect(yield* Effect.promise(() => redis.exists(recordKey(record.uploadId)))).toBe(0)
    }).pipe(Effect.provide(registryWithClient)))

  it.live("a claim renews the record's expiry (a resumed upload lives on)", () =>
    Effect.gen(function*() {
      const registry = yield* UploadRegistry
      const redis = yield* RedisClient.RedisClient
      const id = freshUploadId()
      yield* registry.create(recordFor(id))
      yield* Effect.promise(() => redis.pexpire(recordKey(id), 5_000))
      const release = Option.getOrThrow(yield* registry.claim(id))
      expect(yield* Effect.promise(() => redis.pttl(recordKey(id)))).toBeGreaterThan(Duration.toMillis(expiry) - 60_000)
      yield* release
      yield* registry.remove(id)
    }).pipe(Effect.provide(registryWithClient)))

  it.live("a claim is a key at <prefix>:upload-claim:<id> that lapses within the claim TTL; release deletes it", () =>
    Effect.gen(function*() {
      const registry = yield* UploadRegistry
      const redis = yield* RedisClient.RedisClient
      const id = freshUploadId()
      const release = Option.getOrThrow(yield* registry.claim(id))
      const ttl = yield* Effect.promise(() => redis.pttl(claimKey(id)))
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(CLAIM_TTL_MILLIS)
      yield* release
      expect(yield* Effect.promise(() => redis.exists(claimKey(id)))).toBe(0)
    }).pipe(Effect.provide(registryWithClient)))

  it.live("records and claims are shared by instances on other connections", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const first = yield* instance(scope)
      const second = yield* instance(scope)
      const record = recordFor(freshUploadId())
      yield* first.registry.create(record)
      expect(yield* second.registry.get(record.uploadId)).toEqual(Option.some(record))

      const release = Option.getOrThrow(yield* first.registry.claim(record.uploadId))
      expect(yield* second.registry.claim(record.uploadId)).toEqual(Option.none())
      yield* release
      const releaseSecond = Option.getOrThrow(yield* second.registry.claim(record.uploadId))
      expect(yield* first.registry.claim(record.uploadId)).toEqual(Option.none())
      yield* releaseSecond

      yield* second.registry.remove(record.uploadId)
      expect(yield* first.registry.get(record.uploadId)).toEqual(Option.none())
      yield* Scope.close(scope, Exit.void)
    }))

  it.live("the claim of a holder that dies without releasing lapses by itself (it has a TTL of at most the claim TTL)", () =>
    Effect.gen(function*() {
      const id = freshUploadId()
      const observerScope = yield* Scope.make()
      const observer = yield* instance(observerScope)

      // The holder claims, then its connection goes away without a release.
      const holderScope = yield* Scope.make()
      const holder = yield* instance(holderScope)
      const staleRelease = Option.getOrThrow(yield* holder.registry.claim(id))
      yield* Scope.close(holderScope, Exit.void)

      expect(yield* observer.registry.claim(id)).toEqual(Option.none())
      // Nobody renews it now: it lapses when its TTL runs out (no waiting 30 s here).
      const ttl = yield* Effect.promise(() => observer.redis.pttl(claimKey(id)))
      expect(ttl).toBeGreaterThan(0)
      expect(ttl).toBeLessThanOrEqual(CLAIM_TTL_MILLIS)
      // Once it has lapsed, another instance can claim it.
      yield* Effect.promise(() => observer.redis.pexpire(claimKey(id), 1))
      yield* Effect.sleep(Duration.millis(20))
      const taken = Option.getOrThrow(yield* observer.registry.claim(id))

      // The dead holder's release (its renewal fiber stops; its connection is gone) must not free the new claim.
      yield* staleRelease
      expect(yield* Effect.promise(() => observer.redis.exists(claimKey(id)))).toBe(1)
      yield* taken
      yield* Scope.close(observerScope, Exit.void)
    }))

  it.live("a record that is not JSON fails with UploadRegistryError, reason Corrupt", () =>
    Effect.gen(function*() {
      const registry = yield* UploadRegistry
      const redis = yield* RedisClient.RedisClient
      const id = freshUploadId()
      yield* Effect.promise(() => redis.set(recordKey(id), "{not json", "PX", 60_000))
      const error = yield* Effect.flip(registry.get(id))
      expect(error._tag).toBe("UploadRegistryError")
      expect(error.reason).toBe("Corrupt")
      yield* registry.remove(id)
    }).pipe(Effect.provide(registryWithClient)))

  it.live("fails with reason Unavailable when Redis stops answering", () =>
    Effect.gen(function*() {
      const registry = yield* UploadRegistry
      const redis = yield* RedisClient.RedisClient
      redis.disconnect()
      for (const operation of [registry.get(freshUploadId()), registry.create(recordFor(freshUploadId())), registry.claim(freshUploadId())]) {
        const error = yield* Effect.flip(operation)
        expect(error._tag).toBe("UploadRegistryError")
        expect(error.reason).toBe("Unavailable")
      }
    }).pipe(Effect.provide(registryWithClient)))
})
