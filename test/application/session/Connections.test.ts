/**
 * The Connections service on an in-memory transport: a `next` that hands out
 * scripted `Received` values and a connection that records replies and the
 * close code. Admission, the order of frames, Quiet (the session's timeout),
 * Gone (the session ends, its upload kept for a resume), and the last resort
 * for a defect.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Logger, LogLevel, Option, Ref } from "effect"
import * as MemoryConcurrencyLimiter from "../../../src/adapters/memory/MemoryConcurrencyLimiter.js"
import { layerMemory as memoryStore, MemoryFiles } from "../../../src/adapters/memory/MemoryFileStore.js"
import { layerMemory as memoryLimiter } from "../../../src/adapters/memory/MemoryRateLimiter.js"
import * as MemoryUploadRegistry from "../../../src/adapters/memory/MemoryUploadRegistry.js"
import * as ConnectionAdmission from "../../../src/application/limits/ConnectionAdmission.js"
import { gone, type Next, quiet, type Received, textFrame } from "../../../src/application/session/Connection.js"
import * as Connections from "../../../src/application/session/Connections.js"
import * as UploadSession from "../../../src/application/session/UploadSession.js"
import { type LogLine, recordingLogger } from "../../support/logs.js"

const sessionSettings: UploadSession.SessionSettings = {
  upload: { maxFileBytes: 1 << 20, maxChunkBytes: 1 << 16, allowedExtensions: ["txt"] },
  rateLimit: { limit: 1000, window: Duration.seconds(60) },
  timeouts: { idle: Duration.seconds(600), stall: Duration.seconds(120) }
}

const backends = Layer.mergeAll(memoryStore, memoryLimiter, MemoryConcurrencyLimiter.layerMemory, MemoryUploadRegistry.layerMemory)

/** The service over a real session on memory backends; the backends stay visible to the test. */
const withConnections = (settings: Connections.ConnectionsSettings = {}) =>
  Layer.provideMerge(
    Connections.layer(settings).pipe(Layer.provideMerge(UploadSession.layer(sessionSettings))),
    backends
  )

const meta = (file_name: string, file_size: number, upload_id?: string) =>
  textFrame(JSON.stringify({ type: "file_meta", file_name, file_size, ...(upload_id === undefined ? {} : { upload_id }) }))
const chunk = (text: string) => textFrame(JSON.stringify({ type: "file_chunk", chunk: Buffer.from(text).toString("base64") }))

/**
 * An in-memory transport: `next` hands out `script` in order, then waits for
 * ever; it records the patience it was asked to wait, and the connection
 * records replies and the close code.
 */
const transport = (script: ReadonlyArray<Received>, clientAddress = "192.0.2.1") =>
  Effect.gen(function*() {
    const sent = yield* Ref.make<ReadonlyArray<Record<string, unknown>>>([])
    const closed = yield* Ref.make<Option.Option<number>>(Option.none())
    const waits: Array<Option.Option<Duration.Duration>> = []
    let position = 0
    const next: Next = (within) =>
      Effect.suspend(() => {
        waits.push(within)
        const item = script[position++]
        return item === undefined ? Effect.never : Effect.succeed(item)
      })
    const incoming: Connections.Incoming = {
      connection: {
        clientAddress,
        send: (reply) => Ref.update(sent, (all) => [...all, JSON.parse(reply) as Record<string, unknown>]),
        close: (code) => Ref.set(closed, Option.some(code))
      },
      next
    }
    const types = Effect.map(Ref.get(sent), (all) => all.map((reply) => reply["type"]))
    const last = Effect.map(Ref.get(sent), (all) => all[all.length - 1])
    const uploadId = Effect.map(Ref.get(sent), (all) => String(all.find((m) => m["type"] === "meta_received")?.["upload_id"]))
    return { incoming, sent, closed, waits, types, last, uploadId }
  })

const serve = (incoming: Connections.Incoming) => Effect.flatMap(Connections.Connections, (connections) => connections.serve(incoming))

describe("Connections", () => {
  it.effect("a connection over the limit fails with its refusal before anything is sent; the admitted one is served", () =>
    Effect.gen(function*() {
      const first = yield* transport([meta("a.txt", 10)])
      const served = yield* Effect.fork(serve(first.incoming))
      yield* Effect.yieldNow()
      expect(yield* first.types).toEqual(["meta_received"])
      const second = yield* transport([meta("b.txt", 10)])
      const exit = yield* Effect.exit(serve(second.incoming))
      expect(exit).toEqual(Exit.fail(
        new Connections.ConnectionRefused({
          refusal: { code: "too_many_connections", message: ConnectionAdmission.tooManyFromClient(1) }
        })
      ))
      expect(yield* Ref.get(second.sent)).toEqual([])
      expect(yield* Ref.get(second.closed)).toEqual(Option.none())
      expect(second.waits).toEqual([])
      // A client elsewhere is still admitted.
      const other = yield* transport([meta("c.txt", 10)], "192.0.2.2")
      yield* Effect.fork(serve(other.incoming))
      yield* Effect.yieldNow()
      expect(yield* other.types).toEqual(["meta_received"])
      yield* Fiber.interrupt(served)
    }).pipe(Effect.provide(withConnections({ limits: { perClient: 1, total: 10 } }))))

  it.effect("frames are handled in the order received, each waited for with the session's patience", () =>
    Effect.gen(function*() {
      const t = yield* transport([meta("a.txt", 6), chunk("abc"), chunk("def"), gone(1000, undefined)])
      yield* serve(t.incoming)
      expect(yield* t.types).toEqual(["meta_received", "chunk_received", "file_received"])
      expect(t.waits).toEqual([
        Option.some(Duration.seconds(600)),
        Option.some(Duration.seconds(120)),
        Option.some(Duration.seconds(120)),
        Option.some(Duration.seconds(600))
      ])
    }).pipe(Effect.provide(withConnections())))

  it.effect("Quiet with an upload open is the session's stall timeout: an error, then close 4001", () =>
    Effect.gen(function*() {
      const t = yield* transport([meta("a.txt", 10), chunk("abc"), quiet])
      yield* serve(t.incoming)
      expect(yield* t.last).toEqual({ type: "error", message: UploadSession.uploadStalled(120), code: "upload_stalled" })
      expect(yield* Ref.get(t.closed)).toEqual(Option.some(UploadSession.CLOSE_STALLED))
      expect(t.waits).toHaveLength(3)
    }).pipe(Effect.provide(withConnections())))

  it.effect("Gone ends the session and suspends its upload, which a later connection resumes", () =>
    Effect.gen(function*() {
      const lines: Array<LogLine> = []
      const t = yield* transport([meta("a.txt", 10), chunk("abc"), gone(1006, "connection reset")])
      yield* serve(t.incoming).pipe(
        Effect.provide(Layer.merge(recordingLogger(lines), Logger.minimumLogLevel(LogLevel.Debug)))
      )
      expect(yield* Ref.get(t.closed)).toEqual(Option.none())
      const uploadId = yield* t.uploadId
      expect(yield* Effect.flatMap(MemoryFiles, (files) => files.partialIds)).toEqual([uploadId])
      expect(lines.find((line) => line.message === "client disconnected")?.annotations).toMatchObject({
        client: "192.0.2.1",
        code: 1006,
        error: "connection reset"
      })
      const again = yield* transport([meta("a.txt", 10, uploadId), gone(1000, undefined)])
      yield* serve(again.incoming)
      expect(yield* again.last).toMatchObject({ type: "meta_received", offset: 3 })
    }).pipe(Effect.provide(withConnections({ limits: { perClient: 1, total: 1 } }))))

  it.effect("a defect that escapes the session is logged with the client and fails the connection as ConnectionBroken", () =>
    Effect.gen(function*() {
      const lines: Array<LogLine> = []
      const t = yield* transport([textFrame("{}")])
      const dying = Layer.succeed(UploadSession.UploadSession, {
        open: () => Effect.die(new TypeError("bug in opening a session"))
      })
      const exit = yield* Effect.exit(serve(t.incoming).pipe(
        Effect.provide(Connections.layer({}).pipe(Layer.provide(Layer.merge(dying, MemoryConcurrencyLimiter.layerMemory)))),
        Effect.provide(recordingLogger(lines))
      ))
      expect(exit).toEqual(Exit.fail(new Connections.ConnectionBroken()))
      const errors = lines.filter((line) => line.level === "ERROR")
      expect(errors.map((line) => line.message)).toEqual(["connection ended by a defect"])
      expect(errors[0]?.annotations).toMatchObject({ client: "192.0.2.1" })
      expect(String(errors[0]?.annotations["error"])).toContain("bug in opening a session")
    }))
})
