/**
 * The webhook receiver against a real HTTP server in the test: the payload
 * and its signature, retries with backoff (500, 500, 200), final answers,
 * giving up after WEBHOOK_MAX_ATTEMPTS, and a delivery that survives a
 * restart through the journal file.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import type { UploadEvent } from "../../../src/application/ports/UploadEvents.js"
import * as FsDeliveryJournal from "../../../src/adapters/fs/FsDeliveryJournal.js"
import { layerMemory } from "../../../src/adapters/memory/MemoryDeliveryStore.js"
import { DeliveryStore } from "../../../src/application/ports/DeliveryStore.js"
import { SIGNATURE_HEADER, verify } from "../../../src/adapters/webhook/Signature.js"
import * as WebhookUploadEvents from "../../../src/adapters/webhook/WebhookUploadEvents.js"
import { completedEvent, eventually, receiver, SECRET, settingsFor, startWebhook } from "../../support/webhook.js"

const wait = (check: () => Promise<void>) => Effect.promise(check)
describe("WebhookUploadEvents", () => {
  it("backoff doubles per attempt with equal jitter, capped", () => {
    expect(WebhookUploadEvents.backoffDelay(1, 1000, 60_000, 0)).toBe(500)
    expect(WebhookUploadEvents.backoffDelay(1, 1000, 60_000, 0.999999)).toBe(1000)
    expect(WebhookUploadEvents.backoffDelay(3, 1000, 60_000, 0)).toBe(2000)
    expect(WebhookUploadEvents.backoffDelay(4, 1000, 60_000, 0.5)).toBe(6000)
    expect(WebhookUploadEvents.backoffDelay(20, 1000, 60_000, 1)).toBe(60_000)
  })

  it.scopedLive("POSTs the event as JSON, signed over the timestamp and body; never the file or the secret", () =>
    Effect.gen(function*() {
      const r = yield* receiver(() => ({ status: 204 }))
      const hook = yield* startWebhook(settingsFor(r.url), layerMemory)
      const event = yield* completedEvent()
      yield* hook.publish(event)
      yield* wait(() => r.waitFor(1))
      const [request] = r.requests
      expect(JSON.parse(request!.body) as UploadEvent).toEqual(event)
      expect(request!.headers["content-type"]).toBe("application/json")
      expect(request!.headers["x-file-receiver-event"]).toBe("upload.completed")
      expect(request!.headers["x-file-receiver-delivery"]).toBe(event.id)
      const signature = String(request!.headers[SIGNATURE_HEADER])
      expect(signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/)
      const now = Math.floor(Date.now() / 1000)
      expect(verify(SECRET, request!.body, signature, now)).toBe(true)
      expect(verify("another secret", request!.body, signature, now)).toBe(false)
      expect(verify(SECRET, request!.body.replace("notes", "notez"), signature, now)).toBe(false)
      expect(verify(SECRET, request!.body, signature, now + 3600)).toBe(false)
      expect(request!.body).not.toContain(SECRET)
      yield* eventually(Effect.map(hook.pending, (n) => n === 0))
    }))

  it.scopedLive("retries 5xx with growing delays, then stops at the first 2xx", () =>
    Effect.gen(function*() {
      const arrivals: Array<number> = []
      const r = yield* receiver((_, index) => {
        arrivals.push(Date.now())
        return { status: index < 2 ? 500 : 200 }
      })
      const hook = yield* startWebhook(settingsFor(r.url, { backoffBase: Duration.millis(200) }), layerMemory)
      const event = yield* completedEvent()
      yield* hook.publish(event)
      yield* wait(() => r.waitFor(3))
      yield* eventually(Effect.map(hook.pending, (n) => n === 0))
      yield* Effect.sleep(Duration.millis(500))
      expect(r.requests.map((req) => req.headers["x-file-receiver-attempt"])).toEqual(["1", "2", "3"])
      expect(new Set(r.requests.map((req) => req.body)).size).toBe(1)
      expect(new Set(r.requests.map((req) => req.headers["x-file-receiver-delivery"]))).toEqual(new Set([event.id]))
      // Equal jitter: the first retry waits 100-200 ms, the second 200-400 ms.
      expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(90)
      expect(arrivals[2]! - arrivals[1]!).toBeGreaterThanOrEqual(190)
    }))

  it.scopedLive("a 4xx answer is final, and an endless 5xx gives up after maxAttempts", () =>
    Effect.gen(function*() {
      const rejecting = yield* receiver(() => ({ status: 400 }))
      const failing = yield* receiver(() => ({ status: 503 }))
      const a = yield* startWebhook(settingsFor(rejecting.url), layerMemory)
      const b = yield* startWebhook(settingsFor(failing.url, { maxAttempts: 3, backoffBase: Duration.millis(10) }), layerMemory)
      yield* a.publish(yield* completedEvent())
      yield* b.publish(yield* completedEvent())
      yield* eventually(Effect.map(Effect.all([a.pending, b.pending]), ([x, y]) => x + y === 0 && failing.requests.length >= 3))
      yield* Effect.sleep(Duration.millis(300))
      expect(rejecting.requests).toHaveLength(1)
      expect(failing.requests).toHaveLength(3)
    }))

  it.scopedLive("a receiver that does not answer in time counts as a failed attempt", () =>
    Effect.gen(function*() {
      const r = yield* receiver((_, index) => ({ status: 200, delayMillis: index === 0 ? 6_000 : 0 }))
      const hook = yield* startWebhook(settingsFor(r.url, { timeout: Duration.millis(1_500) }), layerMemory)
      yield* hook.publish(yield* completedEvent())
      yield* wait(() => r.waitFor(2))
      yield* eventually(Effect.map(hook.pending, (n) => n === 0))
    }))

  it.scopedLive("a delivery pending at shutdown is kept in the journal and delivered after the restart", () =>
    Effect.gen(function*() {
      const directory = yield* Effect.acquireRelease(
        Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "fr-journal-"))),
        (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
      )
      // The first instance is shut down while its delivery is in flight (the receiver is slow).
      const slow = yield* receiver(() => ({ status: 200, delayMillis: 5_000 }))
      const before = yield* startWebhook(settingsFor(slow.url, { timeout: Duration.seconds(10) }), FsDeliveryJournal.layer(directory))
      const event = yield* completedEvent()
      yield* before.publish(event)
      yield* wait(() => slow.waitFor(1))
      yield* before.stop
      expect(yield* Effect.promise(() => fs.readFile(path.join(directory, FsDeliveryJournal.JOURNAL_NAME), "utf8"))).toContain(event.id)

      const up = yield* receiver(() => ({ status: 200 }))
      const after = yield* startWebhook(settingsFor(up.url), FsDeliveryJournal.layer(directory))
      yield* wait(() => up.waitFor(1))
      expect(JSON.parse(up.requests[0]!.body)).toEqual(event)
      yield* eventually(Effect.map(after.pending, (n) => n === 0))
      yield* after.stop
      const restarted = yield* startWebhook(settingsFor(up.url), FsDeliveryJournal.layer(directory))
      expect(yield* restarted.pending).toBe(0)
    }))

  it.scopedLive("events published just before a shutdown are all delivered after the restart", () =>
    Effect.gen(function*() {
      const directory = yield* Effect.acquireRelease(
        Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "fr-journal-"))),
        (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
      )
      const nobody = yield* receiver(() => ({ status: 503 }))
      const before = yield* startWebhook(settingsFor(nobody.url, { backoffBase: Duration.seconds(1) }), FsDeliveryJournal.layer(directory))
      const ids: Array<string> = []
      for (let i = 0; i < 50; i++) {
        const event = yield* completedEvent()
        ids.push(event.id)
        yield* before.publish(event)
      }
      yield* before.stop
      const up = yield* receiver(() => ({ status: 200 }))
      const after = yield* startWebhook(settingsFor(up.url), FsDeliveryJournal.layer(directory))
      yield* eventually(Effect.map(after.pending, (n) => n === 0 && up.requests.length >= 50), 15_000)
      expect(new Set(up.requests.map((r) => r.headers["x-file-receiver-delivery"]))).toEqual(new Set(ids))
    }))

  it.scopedLive("the journal is compacted once most of its lines are obsolete", () =>
    Effect.gen(function*() {
      const directory = yield* Effect.acquireRelease(
        Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "fr-journal-"))),
        (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
      )
      const store = yield* DeliveryStore.pipe(Effect.provide(FsDeliveryJournal.layer(directory)))
      for (let i = 0; i < 300; i++) {
        yield* store.add({ id: `e${i}`, type: "upload.completed", body: "{}", attempts: 0, dueAt: 0 })
        if (i > 0) yield* store.acknowledge(`e${i - 1}`)
      }
      const lines = (yield* Effect.promise(() => fs.readFile(path.join(directory, FsDeliveryJournal.JOURNAL_NAME), "utf8"))).trim().split("\n")
      expect(lines.length).toBeLessThan(300)
      const reopened = yield* DeliveryStore.pipe(Effect.provide(FsDeliveryJournal.layer(directory)))
      expect(yield* reopened.pending).toBe(1)
      expect((yield* reopened.claimDue(Date.now(), 1000, 10)).map((d) => d.id)).toEqual(["e299"])
    }))
})
