/**
 * Upload events on a real Redis (unique key prefix): webhook deliveries kept
 * in Redis survive a restart with their attempt count, several instances
 * never deliver one event twice at once (leases), and the event stream is
 * read back with XREADGROUP.
 */
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Redacted } from "effect"
import { randomUUID } from "node:crypto"
import { Redis } from "ioredis"
import type { UploadEvent } from "../../../src/application/ports/UploadEvents.js"
import * as RedisClient from "../../../src/adapters/redis/RedisClient.js"
import * as RedisDeliveryStore from "../../../src/adapters/redis/RedisDeliveryStore.js"
import * as RedisEventStream from "../../../src/adapters/redis/RedisEventStream.js"
import { DeliveryStore } from "../../../src/application/ports/DeliveryStore.js"
import { deliveryStoreContract } from "../../contracts/DeliveryStore.contract.js"
import { deleteKeys, redisAvailable, redisUrl } from "../../support/redis.js"
import { completedEvent, eventually, receiver, settingsFor, startWebhook } from "../../support/webhook.js"

const prefix = `file-receiver-test-${randomUUID()}`
const client = RedisClient.layer(Redacted.make(redisUrl))
/** A store with its own connection: another server instance. */
const store = RedisDeliveryStore.layer(prefix).pipe(Layer.provide(client))

afterAll(() => (redisAvailable ? deleteKeys(prefix) : undefined))

describe.skipIf(!redisAvailable)("RedisDeliveryStore", () => {
  it.scopedLive("a delivery scheduled for a retry survives a restart, with its attempt count", () =>
    Effect.gen(function*() {
      const failing = yield* receiver(() => ({ status: 500 }))
      const before = yield* startWebhook(settingsFor(failing.url, { backoffBase: Duration.millis(1500) }), store)
      const event = yield* completedEvent()
      yield* before.publish(event)
      yield* Effect.promise(() => failing.waitFor(1))
      yield* Effect.sleep(Duration.millis(200))
      yield* before.stop
      expect(failing.requests).toHaveLength(1)

      const ok = yield* receiver(() => ({ status: 200 }))
      const after = yield* startWebhook(settingsFor(ok.url), store)
      yield* Effect.promise(() => ok.waitFor(1))
      expect(JSON.parse(ok.requests[0]!.body) as UploadEvent).toEqual(event)
      expect(ok.requests[0]!.headers["x-file-receiver-attempt"]).toBe("2")
      yield* eventually(Effect.map(after.pending, (n) => n === 0))
    }))

  it.scopedLive("a claimed delivery is leased: no other instance gets it until the lease ends", () =>
    Effect.gen(function*() {
      const scope = yield* Effect.scope
      const a = Context.get(yield* Layer.buildWithScope(store, scope), DeliveryStore)
      const b = Context.get(yield* Layer.buildWithScope(store, scope), DeliveryStore)
      const id = randomUUID()
      yield* a.add({ id, type: "upload.completed", body: "{}", attempts: 0, dueAt: 1000 })
      yield* a.add({ id, type: "upload.completed", body: "{\"again\":1}", attempts: 0, dueAt: 1000 })
      expect((yield* a.claimDue(2000, 500, 10)).filter((d) => d.id === id)).toEqual([
        { id, type: "upload.completed", body: "{}", attempts: 0, dueAt: 1000 }
      ])
      expect((yield* b.claimDue(2400, 500, 10)).filter((d) => d.id === id)).toEqual([])
      expect((yield* b.claimDue(2500, 500, 10)).map((d) => d.id)).toContain(id)
      yield* b.retry(id, 1, 9000)
      expect((yield* a.claimDue(8999, 500, 10)).filter((d) => d.id === id)).toEqual([])
      expect((yield* a.claimDue(9000, 500, 10)).filter((d) => d.id === id).map((d) => d.attempts)).toEqual([1])
      yield* a.acknowledge(id)
      expect((yield* b.claimDue(99_999, 500, 10)).filter((d) => d.id === id)).toEqual([])
    }))

  it.scopedLive("two instances sharing Redis deliver every event exactly once", () =>
    Effect.gen(function*() {
      const r = yield* receiver(() => ({ status: 200, delayMillis: 20 }))
      const one = yield* startWebhook(settingsFor(r.url), store)
      const two = yield* startWebhook(settingsFor(r.url), store)
      const ids: Array<string> = []
      for (let i = 0; i < 40; i++) {
        const event = yield* completedEvent()
        ids.push(event.id)
        yield* (i % 2 === 0 ? one : two).publish(event)
      }
      yield* Effect.promise(() => r.waitFor(40))
      yield* eventually(Effect.map(one.pending, (n) => n === 0))
      yield* Effect.sleep(Duration.millis(300))
      const delivered = r.requests.map((req) => String(req.headers["x-file-receiver-delivery"]))
      expect(delivered.sort()).toEqual(ids.sort())
    }))
})

describe.skipIf(!redisAvailable)("RedisEventStream", () => {
  it.scopedLive("every event is XADDed and read back by a consumer group", () =>
    Effect.gen(function*() {
      const stream = `${prefix}:events`
      const publish = yield* RedisEventStream.make({ stream, maxLength: 1000 }).pipe(Effect.provide(yield* Layer.build(client)))
      const redis = yield* Effect.acquireRelease(Effect.sync(() => new Redis(redisUrl)), (r) => Effect.sync(() => r.disconnect()))
      yield* Effect.promise(() => redis.xgroup("CREATE", stream, "app", "0", "MKSTREAM"))
      const events = [yield* completedEvent(), yield* completedEvent()]
      for (const event of events) yield* publish(event)
      const read = () =>
        redis.xreadgroup("GROUP", "app", "consumer-1", "COUNT", 10, "BLOCK", 2000, "STREAMS", stream, ">") as Promise<
          Array<[string, Array<[string, Array<string>]>]> | null
        >
      const entries: Array<Array<string>> = []
      while (entries.length < 2) {
        const batch = yield* Effect.promise(read)
        if (batch === null) break
        for (const [, rows] of batch) for (const [, fields] of rows) entries.push(fields)
      }
      const parsed = entries.map((fields) => Object.fromEntries(fields.flatMap((value, i) => (i % 2 === 0 ? [[value, fields[i + 1]]] : []))))
      expect(parsed.map((f) => f["id"])).toEqual(events.map((e) => e.id))
      expect(parsed.map((f) => f["type"])).toEqual(["upload.completed", "upload.completed"])
      expect(JSON.parse(String(parsed[0]!["event"]))).toEqual(events[0])
    }))

  it.scopedLive("the stream is capped near EVENTS_STREAM_MAXLEN", () =>
    Effect.gen(function*() {
      const stream = `${prefix}:capped`
      const publish = yield* RedisEventStream.make({ stream, maxLength: 10 }).pipe(Effect.provide(yield* Layer.build(client)))
      for (let i = 0; i < 300; i++) yield* publish(yield* completedEvent())
      const redis = yield* Effect.acquireRelease(Effect.sync(() => new Redis(redisUrl)), (r) => Effect.sync(() => r.disconnect()))
      yield* eventually(Effect.promise(async () => (await redis.xrevrange(stream, "+", "-", "COUNT", 1)).length === 1))
      yield* Effect.sleep(Duration.millis(300))
      expect(yield* Effect.promise(() => redis.xlen(stream))).toBeLessThan(300)
    }))
})


deliveryStoreContract("redis", store, { skip: !redisAvailable })
