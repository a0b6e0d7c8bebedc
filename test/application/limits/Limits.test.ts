/**
 * The per-client limits and timeouts of a session, on memory layers with
 * TestClock: bytes per window, unfinished uploads per client, the idle and
 * stall timeouts (through SessionLoop), and connection admission.
 */
import { describe, expect } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Option, Queue, Scope, TestClock } from "effect"
import * as Refusal from "../../../src/domain/Refusal.js"
import * as MemoryConcurrencyLimiter from "../../../src/adapters/memory/MemoryConcurrencyLimiter.js"
import { ConcurrencyLimiter } from "../../../src/application/ports/ConcurrencyLimiter.js"
import * as ConnectionLimits from "../../../src/application/limits/ConnectionAdmission.js"
import * as SessionLoop from "../../../src/application/session/SessionLoop.js"
import { UploadRegistry } from "../../../src/application/ports/UploadRegistry.js"
import * as UploadQuota from "../../../src/application/limits/UploadQuota.js"
import * as UploadSession from "../../../src/application/session/UploadSession.js"
import { cancel, chunk, layerPerTest, meta, openSession, partialIds, sessionLayer, type TestSession } from "../support/session.js"

const baseSettings: UploadSession.SessionSettings = {
  upload: { maxFileBytes: 1 << 20, maxChunkBytes: 1 << 16, allowedExtensions: ["txt"] },
  rateLimit: { limit: 1000, window: Duration.seconds(60) }
}

/** Sessions with `settings` over the memory backends, fresh for each test. */
const withSession = (settings: Partial<UploadSession.SessionSettings>) => layerPerTest(sessionLayer({ ...baseSettings, ...settings }))

/** A session for `clientAddress` in its own scope. */
const open = (clientAddress?: string) => openSession(clientAddress === undefined ? {} : { clientAddress })

describe("bytes per window (RATE_LIMIT_BYTES_PER_PERIOD)", () => {
  withSession({ rateLimit: { ...baseSettings.rateLimit, bytesLimit: 150 } })((it) => {
    it.effect("frames count by their size (here 56 + 71 bytes, then 71 more): the frame past the limit gets an error and a 1008 close", () =>
      Effect.gen(function*() {
        const s = yield* open()
        const verdicts = yield* s.receive(meta("a.txt", 100), chunk("x".repeat(30)))
        expect(verdicts).toEqual(["continue", "continue"])
        const over = yield* s.receive(chunk("y".repeat(30)))
        expect(over).toEqual(["closed"])
        expect(yield* s.last).toMatchObject({ type: "error", message: UploadSession.bytesRateLimitExceeded(150, 60), code: "rate_limited" })
        expect(yield* s.closed).toEqual(Option.some(UploadSession.CLOSE_POLICY_VIOLATION))
      }))
  })

  withSession({ rateLimit: { ...baseSettings.rateLimit, bytesLimit: 120 } })((it) => {
    it.effect("counts per client across connections, and starts again with the next window", () =>
      Effect.gen(function*() {
        const first = yield* open("192.0.2.7")
        yield* first.receive("x".repeat(100))
        const second = yield* open("192.0.2.7")
        expect(yield* second.receive("y".repeat(30))).toEqual(["closed"])
        const other = yield* open("192.0.2.8")
        expect(yield* other.receive("z".repeat(100))).toEqual(["continue"])
        yield* TestClock.adjust(Duration.seconds(60))
        const later = yield* open("192.0.2.7")
        expect(yield* later.receive("w".repeat(100))).toEqual(["continue"])
      }))
  })
})

withSession({ uploadQuota: { perClient: 2, ttl: Duration.hours(24) } })("unfinished uploads per client (MAX_UPLOADS_PER_IP)", (it) => {
  it.effect("suspended uploads count: the third unfinished upload is refused, another client is not", () =>
    Effect.gen(function*() {
      for (const name of ["a.txt", "b.txt"]) {
        const s = yield* open()
        yield* s.receive(meta(name, 10), chunk("abc"))
        yield* s.end
      }
      const third = yield* open()
      yield* third.receive(meta("c.txt", 10))
      expect(yield* third.last).toEqual({ type: "error", message: UploadQuota.tooManyUploads(2), code: "too_many_uploads" })
      expect((yield* partialIds).length).toBe(2)
      const other = yield* open("192.0.2.99")
      yield* other.receive(meta("c.txt", 10))
      expect((yield* other.last)?.["type"]).toBe("meta_received")
    }))

  it.effect("a held upload can still be resumed at the limit; finishing or cancelling one frees a slot", () =>
    Effect.gen(function*() {
      const a = yield* open()
      yield* a.receive(meta("a.txt", 6), chunk("abc"))
      const aId = yield* a.uploadId
      yield* a.end
      const b = yield* open()
      yield* b.receive(meta("b.txt", 10))
      const resumed = yield* open()
      yield* resumed.receive(meta("a.txt", 6, { upload_id: aId }))
      expect(yield* resumed.last).toMatchObject({ type: "meta_received", offset: 3 })
      yield* resumed.receive(chunk("def"))
      expect((yield* resumed.last)?.["type"]).toBe("file_received")
      yield* b.receive(cancel)
      const limiter = yield* ConcurrencyLimiter
      expect(yield* limiter.count("uploads:192.0.2.1")).toBe(0)
      const c = yield* open()
      yield* c.receive(meta("c.txt", 10), meta("d.txt", 10))
      expect(yield* c.types).toEqual(["meta_received", "meta_received"])
    }))

  it.effect("a suspended upload's slot lapses with the upload expiry", () =>
    Effect.gen(function*() {
      const limiter = yield* ConcurrencyLimiter
      const s = yield* open()
      yield* s.receive(meta("a.txt", 10), chunk("abc"))
      yield* s.end
      yield* TestClock.adjust(Duration.hours(24))
      expect(yield* limiter.count("uploads:192.0.2.1")).toBe(1)
      yield* TestClock.adjust(Duration.minutes(2))
      expect(yield* limiter.count("uploads:192.0.2.1")).toBe(0)
    }))
})

describe("timeouts (IDLE_TIMEOUT, UPLOAD_STALL_TIMEOUT)", () => {
  const timeouts = withSession({ timeouts: { idle: Duration.seconds(600), stall: Duration.seconds(120) } })

  /** Serves a session from a queue of frames in a background fiber; `None` ends it as a disconnect would. */
  const serve = (s: TestSession) =>
    Effect.gen(function*() {
      const frames = yield* Queue.unbounded<Option.Option<UploadSession.Frame>>()
      const fiber = yield* Effect.fork(SessionLoop.serve(s.session, SessionLoop.within(Queue.take(frames))))
      const push = (text: string) => Queue.offer(frames, Option.some(UploadSession.textFrame(text)))
      return { fiber, push }
    })

  timeouts((it) => {
    it.effect("an upload with no chunk for the stall timeout gets an error, is suspended (resumable), and the connection closes 4001", () =>
      Effect.gen(function*() {
        const s = yield* open()
        const { fiber, push } = yield* serve(s)
        yield* push(meta("a.txt", 10))
        yield* push(chunk("abc"))
        yield* TestClock.adjust(Duration.seconds(119))
        expect(yield* s.closed).toEqual(Option.none())
        yield* push(chunk("def"))
        yield* TestClock.adjust(Duration.seconds(119))
        expect(yield* s.closed).toEqual(Option.none())
        yield* TestClock.adjust(Duration.seconds(1))
        yield* Fiber.join(fiber)
        expect(yield* s.last).toEqual({ type: "error", message: UploadSession.uploadStalled(120), code: "upload_stalled" })
        expect(yield* s.closed).toEqual(Option.some(UploadSession.CLOSE_STALLED))
        const uploadId = yield* s.uploadId
        expect(yield* partialIds).toEqual([uploadId])
        const again = yield* open()
        yield* again.receive(meta("a.txt", 10, { upload_id: uploadId }))
        expect(yield* again.last).toMatchObject({ type: "meta_received", offset: 6 })
        expect(Option.isSome(yield* Effect.flatMap(UploadRegistry, (r) => r.get(uploadId)))).toBe(true)
      }))

    it.effect("a connection with no upload open is closed 4000 after the idle timeout, with an error first", () =>
      Effect.gen(function*() {
        const s = yield* open()
        const { fiber, push } = yield* serve(s)
        yield* push(meta("a.txt", 0))
        yield* TestClock.adjust(Duration.seconds(599))
        expect(yield* s.closed).toEqual(Option.none())
        yield* TestClock.adjust(Duration.seconds(1))
        yield* Fiber.join(fiber)
        expect(yield* s.last).toEqual({ type: "error", message: UploadSession.idleTimeout(600), code: "idle_timeout" })
        expect(yield* s.closed).toEqual(Option.some(UploadSession.CLOSE_IDLE))
      }))
  })

  withSession({})((it) => {
    it.effect("without timeouts a session waits for ever", () =>
      Effect.gen(function*() {
        const s = yield* open()
        const { fiber, push } = yield* serve(s)
        yield* push(meta("a.txt", 10))
        yield* TestClock.adjust(Duration.days(30))
        expect(yield* s.closed).toEqual(Option.none())
        expect(fiber.unsafePoll()).toBeNull()
      }))
  })
})

layerPerTest(MemoryConcurrencyLimiter.layerMemory)("connection admission (MAX_CONNECTIONS_PER_IP, MAX_CONNECTIONS)", (it) => {
  const limits = { perClient: 2, total: 3 }
  /** Admits a connection from `clientAddress` in a scope of its own (its connection). */
  const admitted = (admission: ConnectionLimits.Admission, clientAddress: string) =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const refused = yield* Scope.extend(admission.admit(clientAddress), scope)
      return { refused, close: Scope.close(scope, Exit.void) }
    })

  it.scoped("admits up to the per-client and total limits, and a closed connection frees its slots", () =>
    Effect.gen(function*() {
      const admission = yield* ConnectionLimits.make(limits)
      const a1 = yield* admitted(admission, "192.0.2.1")
      yield* admitted(admission, "192.0.2.1")
      expect((yield* admitted(admission, "192.0.2.1")).refused).toEqual(Option.some(Refusal.make("too_many_connections", ConnectionLimits.tooManyFromClient(2))))
      expect(a1.refused).toEqual(Option.none())
      yield* admitted(admission, "192.0.2.2")
      expect((yield* admitted(admission, "192.0.2.3")).refused).toEqual(Option.some(Refusal.make("too_many_connections", ConnectionLimits.TOO_MANY_CONNECTIONS)))
      yield* a1.close
      expect((yield* admitted(admission, "192.0.2.3")).refused).toEqual(Option.none())
    }))

  it.scoped("renews the leases of every open connection, so they never lapse while it lives, and not those of closed ones", () =>
    Effect.gen(function*() {
      const limiter = yield* ConcurrencyLimiter
      const admission = yield* ConnectionLimits.make(limits)
      yield* admitted(admission, "192.0.2.1")
      const closed = yield* admitted(admission, "192.0.2.1")
      yield* admitted(admission, "192.0.2.2")
      yield* closed.close
      yield* TestClock.adjust(Duration.minutes(10))
      expect(yield* limiter.count("connections:192.0.2.1")).toBe(1)
      expect(yield* limiter.count("connections:192.0.2.2")).toBe(1)
      expect(yield* limiter.count("connections")).toBe(2)
    }))

  it.scoped("without renewals (the admission's scope closed, as when an instance dies) the leases lapse", () =>
    Effect.gen(function*() {
      const limiter = yield* ConcurrencyLimiter
      const admissionScope = yield* Scope.make()
      const admission = yield* Scope.extend(ConnectionLimits.make(limits), admissionScope)
      yield* admitted(admission, "192.0.2.1")
      yield* Scope.close(admissionScope, Exit.void)
      yield* TestClock.adjust(Duration.sum(ConnectionLimits.LEASE_TTL, Duration.seconds(1)))
      expect(yield* limiter.count("connections")).toBe(0)
    }))
})
