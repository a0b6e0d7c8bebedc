import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, HashMap, Layer, Option, Ref, Scope, TestClock } from "effect"
import { FileStore, FileStoreError, type PartialFile } from "../../../src/application/ports/FileStore.js"
import { RateLimiter, RateLimiterError } from "../../../src/application/ports/RateLimiter.js"
import { UploadRegistry, UploadRegistryError } from "../../../src/application/ports/UploadRegistry.js"
import * as UploadSession from "../../../src/application/session/UploadSession.js"
import { layerMemory as memoryStore, MemoryFiles } from "../../../src/adapters/memory/MemoryFileStore.js"
import { layerMemory as memoryLimiter } from "../../../src/adapters/memory/MemoryRateLimiter.js"
import * as MemoryConcurrencyLimiter from "../../../src/adapters/memory/MemoryConcurrencyLimiter.js"
import * as MemoryUploadRegistry from "../../../src/adapters/memory/MemoryUploadRegistry.js"
import * as Upload from "../../../src/domain/Upload.js"
import * as Uploads from "../../../src/application/uploads/Uploads.js"
import * as UploadExpiry from "../../../src/application/uploads/UploadExpiry.js"
import { createHash } from "node:crypto"
import { type LogLine, recordingLogger } from "../../support/logs.js"

const settings: UploadSession.SessionSettings = {
  upload: { maxFileBytes: 1024, maxChunkBytes: 256, allowedExtensions: ["txt", "pdf"] },
  rateLimit: { limit: 20, window: Duration.seconds(60) }
}

const sessionLayer = (overrides: Partial<UploadSession.SessionSettings> = {}) =>
  UploadSession.layer({ ...settings, ...overrides }).pipe(
    Layer.provide(Layer.merge(MemoryUploadRegistry.layerMemory, MemoryConcurrencyLimiter.layerMemory))
  )

/** A connection that records what the session sends and whether it closed. */
const recordingConnection = (clientAddress = "192.0.2.1", identity?: string) =>
  Effect.gen(function*() {
    const sent = yield* Ref.make<ReadonlyArray<Record<string, unknown>>>([])
    const closed = yield* Ref.make<Option.Option<number>>(Option.none())
    const connection: UploadSession.Connection = {
      clientAddress,
      identity,
      send: (reply) => Ref.update(sent, (all) => [...all, JSON.parse(reply) as Record<string, unknown>]),
      close: (code) => Ref.set(closed, Option.some(code))
    }
    return { connection, sent, closed }
  })

const meta = (file_name: string, file_size: number) => JSON.stringify({ type: "file_meta", file_name, file_size })
const chunk = (text: string) => JSON.stringify({ type: "file_chunk", chunk: Buffer.from(text).toString("base64") })

/** Opens a session in its own scope; returns it with the recorder and the scope to close it. */
const openSession = (clientAddress?: string, identity?: string) =>
  Effect.gen(function*() {
    const recorder = yield* recordingConnection(clientAddress, identity)
    const scope = yield* Scope.make()
    const sessions = yield* UploadSession.UploadSession
    const session = yield* Scope.extend(sessions.open(recorder.connection), scope)
    const receive = (frame: string | UploadSession.Frame) =>
      session.receive(typeof frame === "string" ? UploadSession.textFrame(frame) : frame)
    const receiveAll = (...frames: ReadonlyArray<string | UploadSession.Frame>) => Effect.forEach(frames, receive)
    const types = Effect.map(Ref.get(recorder.sent), (all) => all.map((m) => m["type"]))
    const last = Effect.map(Ref.get(recorder.sent), (all) => all[all.length - 1])
    return { ...recorder, receive, scope, receiveAll, types, last }
  })

/** The memory store, with each partial file it opens changed by `change` (to inject failures). */
const memoryStoreWith = (change: (partial: PartialFile, uploadId: string) => PartialFile) =>
  Layer.effect(
    FileStore,
    Effect.map(FileStore, (store) => ({ ...store, begin: (uploadId: string) => Effect.map(store.begin(uploadId), (partial) => change(partial, uploadId)) }))
  ).pipe(Layer.provideMerge(memoryStore))

/** Starts `name` on a session of its own, sends `chunks`, and drops the connection: the upload's id (it is kept for a resume). */
const suspendedUpload = (name: string, size: number, ...chunks: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const s = yield* openSession()
    yield* s.receiveAll(meta(name, size), ...chunks.map(chunk))
    const uploadId = String((yield* Ref.get(s.sent))[0]?.["upload_id"])
    yield* Scope.close(s.scope, Exit.void)
    return uploadId
  })

const memory = Layer.mergeAll(memoryStore, memoryLimiter, MemoryConcurrencyLimiter.layerMemory)
const committed = Effect.flatMap(MemoryFiles, (files) => files.committed)
const committedText = (name: string) =>
  Effect.map(committed, (map) => Option.map(HashMap.get(map, name), (bytes) => Buffer.from(bytes).toString()))

describe("UploadSession", () => {
  it.effect("stores a multi-chunk upload and answers each step", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      yield* s.receiveAll(meta("notes.txt", 11), chunk("hello "), chunk("world"))
      expect(yield* s.types).toEqual(["meta_received", "chunk_received", "file_received"])
      expect(yield* s.last).toEqual({
        type: "file_received",
        message: "File notes.txt received successfully and file extension is `txt`",
        extension: "txt",
        sha256: createHash("sha256").update("hello world").digest("hex")
      })
      expect(yield* committedText("notes.txt")).toEqual(Option.some("hello world"))
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("a 0-byte file completes right after meta_received", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      yield* s.receive(meta("empty.txt", 0))
      expect(yield* s.types).toEqual(["meta_received", "file_received"])
      expect(yield* committedText("empty.txt")).toEqual(Option.some(""))
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("a name collision is reported with the stored name", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      yield* s.receiveAll(meta("a.txt", 1), chunk("1"), meta("a.txt", 1), chunk("2"))
      expect((yield* s.last)?.["message"]).toBe("File a_1.txt received successfully and file extension is `txt`")
      expect(yield* committedText("a_1.txt")).toEqual(Option.some("2"))
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("errors keep the connection usable", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      const verdicts = yield* s.receiveAll("not json", chunk("x"), meta("x.exe", 1), meta("ok.txt", 2), chunk("ab"))
      expect(verdicts).toEqual(["continue", "continue", "continue", "continue", "continue"])
      expect(yield* s.types).toEqual(["error", "error", "error", "meta_received", "file_received"])
      expect(Option.isNone(yield* Ref.get(s.closed))).toBe(true)
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("an overflowing chunk discards the upload and stores nothing", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      yield* s.receiveAll(meta("small.txt", 4), chunk("abc"), chunk("de"), chunk("f"))
      const sent = yield* Ref.get(s.sent)
      expect(sent[2]?.["message"]).toBe("Chunk exceeds the declared file size (4 bytes); upload discarded")
      expect(sent[3]?.["message"]).toBe(Upload.NO_UPLOAD)
      expect(HashMap.size(yield* committed)).toBe(0)
      expect(yield* Effect.flatMap(MemoryFiles, (f) => f.openPartials)).toBe(0)
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("a new file_meta mid-upload discards the unfinished file and starts over", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      yield* s.receiveAll(meta("first.txt", 10), chunk("abc"), meta("second.txt", 2), chunk("xy"))
      expect(yield* s.types).toEqual(["meta_received", "chunk_received", "meta_received", "file_received"])
      expect([...HashMap.keys(yield* committed)]).toEqual(["second.txt"])
      expect(yield* Effect.flatMap(MemoryFiles, (f) => f.openPartials)).toBe(0)
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("closing the session mid-upload keeps the partial file for a resume, and publishes nothing", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      yield* s.receiveAll(meta("cut.txt", 10), chunk("abc"))
      expect(yield* Effect.flatMap(MemoryFiles, (f) => f.openPartials)).toBe(1)
      yield* Scope.close(s.scope, Exit.void)
      expect(yield* Effect.flatMap(MemoryFiles, (f) => f.openPartials)).toBe(0)
      expect((yield* Effect.flatMap(MemoryFiles, (f) => f.partialIds)).length).toBe(1)
      expect(HashMap.size(yield* committed)).toBe(0)
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("binary frames are chunks of raw bytes, with the same replies and rules as file_chunk", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      const binary = (text: string) => UploadSession.binaryFrame(Buffer.from(text))
      yield* s.receiveAll(binary("early"), meta("mixed.txt", 9), binary("abc"), chunk("def"), binary("ghij"), binary("g"))
      const sent = yield* Ref.get(s.sent)
      expect(sent.map((m) => m["type"])).toEqual(["error", "meta_received", "chunk_received", "chunk_received", "error", "error"])
      expect(sent[0]?.["message"]).toBe(Upload.NO_UPLOAD)
      expect(sent[3]?.["received"]).toBe(6)
      expect(sent[4]?.["message"]).toBe("Chunk exceeds the declared file size (9 bytes); upload discarded")
      yield* s.receiveAll(meta("bin.txt", 4), binary("wx"), binary("yz"))
      expect((yield* s.last)?.["type"]).toBe("file_received")
      expect(yield* committedText("bin.txt")).toEqual(Option.some("wxyz"))
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("meta_received offers binary chunks and the chunk limit; chunk_received counts the bytes", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      yield* s.receiveAll(meta("count.txt", 10), chunk("abcd"))
      const [metaReply, chunkReply] = yield* Ref.get(s.sent)
      expect(metaReply).toEqual({
        type: "meta_received",
        message: "Ready to receive file",
        max_chunk_bytes: 256,
        binary_chunks: true,
        upload_id: metaReply?.["upload_id"],
        offset: 0,
        // The limits this client is counted against, so that it can pace itself.
        rate_limit: { messages: 20, period_seconds: 60 }
      })
      expect(chunkReply).toEqual({ type: "chunk_received", message: "Ready for next chunk", received: 4 })
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  describe("rate limit", () => {
    const limited = sessionLayer({ rateLimit: { limit: 3, window: Duration.seconds(60) } })

    it.effect("the message over the limit gets `Rate limit exceeded` and a 1008 close", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        const verdicts = yield* s.receiveAll(meta("a.txt", 9), chunk("a"), "junk counts too", chunk("b"))
        expect(verdicts).toEqual(["continue", "continue", "continue", "closed"])
        expect(yield* s.last).toMatchObject({ type: "error", message: "Rate limit exceeded", code: "rate_limited" })
        expect(yield* Ref.get(s.closed)).toEqual(Option.some(1008))
      }).pipe(Effect.provide(limited), Effect.provide(memory)))

    it.effect("counts per client address across connections, and resets with the window", () =>
      Effect.gen(function*() {
        const first = yield* openSession("198.51.100.7")
        yield* first.receiveAll("1", "2", "3")
        const second = yield* openSession("198.51.100.7")
        expect(yield* second.receive("4")).toBe("closed")
        const other = yield* openSession("198.51.100.8")
        expect(yield* other.receive("1")).toBe("continue")

        yield* TestClock.adjust(Duration.seconds(59))
        const stillLimited = yield* openSession("198.51.100.7")
        expect(yield* stillLimited.receive("5")).toBe("closed")
        yield* TestClock.adjust(Duration.seconds(1))
        const nextWindow = yield* openSession("198.51.100.7")
        expect(yield* nextWindow.receive("1")).toBe("continue")
      }).pipe(Effect.provide(limited), Effect.provide(memory)))

    it.effect("an unavailable limiter lets messages through (fail open)", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        yield* s.receive(meta("a.txt", 1))
        expect(yield* s.types).toEqual(["meta_received"])
      }).pipe(
        Effect.provide(sessionLayer()),
        Effect.provide(memoryStore),
        Effect.provide(Layer.succeed(RateLimiter, {
          consume: () => Effect.fail(new RateLimiterError({ reason: "Unavailable", cause: "connection refused" }))
        }))
      ))
  })

  it.effect("a storage failure is reported in user terms and the session recovers", () =>
    Effect.gen(function*() {
      const failures = yield* Ref.make(1)
      const flakyStore = memoryStoreWith((partial) => ({
        ...partial,
        append: (bytes) =>
          Effect.flatMap(Ref.getAndUpdate(failures, (n) => n - 1), (left) =>
            left > 0 ? Effect.fail(new FileStoreError({ reason: "Write", cause: new Error("EIO: i/o error, write /srv/x") })) : partial.append(bytes))
      }))

      const s = yield* Effect.provide(openSession(), sessionLayer().pipe(Layer.provide(flakyStore), Layer.provide(memoryLimiter)))
      yield* s.receiveAll(meta("a.txt", 2), chunk("ab"))
      const sent = yield* Ref.get(s.sent)
      expect(sent[1]).toEqual({ type: "error", message: UploadSession.STORAGE_UNAVAILABLE, code: "storage_unavailable" })
      expect(JSON.stringify(sent)).not.toContain("EIO")
      // Suspended, not discarded: the upload waits for a resume with what the store holds.
      const uploadId = String(sent[0]?.["upload_id"])
      yield* s.receiveAll(chunk("ab"), JSON.stringify({ type: "file_meta", file_name: "a.txt", file_size: 2, upload_id: uploadId }), chunk("ab"))
      expect(yield* s.types).toEqual(["meta_received", "error", "error", "meta_received", "file_received"])
      expect((yield* Ref.get(s.sent))[3]).toMatchObject({ upload_id: uploadId, offset: 0 })
    }).pipe(Effect.provide(memoryStore)))

  it.effect("a full disk or a failed commit discards the upload, and says so", () =>
    Effect.gen(function*() {
      const failing = (fail: "append" | "commit", cause: unknown) =>
        memoryStoreWith((partial) => ({
          ...partial,
          append: (bytes) => fail === "append" ? Effect.fail(new FileStoreError({ reason: "Write", cause })) : partial.append(bytes),
          commit: (...args) => fail === "commit" ? Effect.fail(new FileStoreError({ reason: "Commit", cause })) : partial.commit(...args)
        }))
      const cases = [
        ["append", Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }), Uploads.DISK_FULL, "disk_full"],
        ["commit", new Error("EIO: i/o error, link"), Uploads.STORAGE_FAILED, "storage_failed"]
      ] as const
      for (const [where, cause, message, code] of cases) {
        const s = yield* Effect.provide(openSession(), sessionLayer().pipe(Layer.provide(failing(where, cause)), Layer.provide(memoryLimiter)))
        yield* s.receiveAll(meta("a.txt", 2), chunk("ab"))
        expect(yield* s.last).toEqual({ type: "error", message, code })
      }
    }).pipe(Effect.provide(memoryStore)))
})

describe("defects", () => {
  /** A store whose first `count` appends die (a bug, not a storage failure). */
  const buggyStore = (count: number) =>
    Layer.effect(
      FileStore,
      Effect.gen(function*() {
        const store = yield* FileStore
        const defects = yield* Ref.make(count)
        return {
          ...store,
          begin: (uploadId: string) =>
            Effect.map(store.begin(uploadId), (partial) => ({
              ...partial,
              append: (bytes: Uint8Array) =>
                Effect.flatMap(Ref.getAndUpdate(defects, (n) => n - 1), (left) =>
                  left > 0 ? Effect.die(new TypeError(`bug writing /srv/.${uploadId}.partial`)) : partial.append(bytes))
            }))
        }
      })
    ).pipe(Layer.provideMerge(memoryStore))


  it.effect("a defect while handling a frame is logged with the client, answered with internal_error, and the next frame is handled", () =>
    Effect.gen(function*() {
      const lines: Array<LogLine> = []
      const s = yield* openSession("192.0.2.7", "alice")
      const receive = (frame: string) => Effect.provide(s.receive(frame), recordingLogger(lines))

      const verdicts = [yield* receive(meta("a.txt", 2)), yield* receive(chunk("ab"))]
      const sent = yield* Ref.get(s.sent)
      expect(Object.keys(sent[1] ?? {})).toEqual(["type", "message", "code"])
      expect(sent[1]).toEqual({
        type: "error",
        message: "Internal server error: the message could not be handled",
        code: "internal_error"
      })

      const errors = lines.filter((line) => line.level === "ERROR")
      expect(errors).toHaveLength(1)
      expect(errors[0]?.annotations).toMatchObject({ client: "192.0.2.7", identity: "alice" })
      expect(String(errors[0]?.annotations["error"])).toContain("bug writing")
      // The id lets its holder resume the upload: the log names it by its reference only.
      const uploadId = String(sent[0]?.["upload_id"])
      expect(JSON.stringify(lines)).not.toContain(uploadId)
      expect(errors[0]?.annotations["upload"]).toBe(Uploads.logReference(uploadId))

      // The upload is suspended, not open (every byte answered is in the store): it can be resumed; the session goes on from Idle.
      expect(yield* Effect.flatMap(MemoryFiles, (f) => f.openPartials)).toBe(0)
      expect(yield* Effect.flatMap(MemoryFiles, (f) => f.partialIds)).toEqual([uploadId])
      verdicts.push(...(yield* Effect.forEach([chunk("ab"), meta("a.txt", 2), chunk("ab")], receive)))
      expect(verdicts).toEqual(["continue", "continue", "continue", "continue", "continue"])
      expect(yield* s.types).toEqual(["meta_received", "error", "error", "meta_received", "file_received"])
      expect((yield* Ref.get(s.sent))[2]?.["message"]).toBe(Upload.NO_UPLOAD)
      expect(yield* committedText("a.txt")).toEqual(Option.some("ab"))
      expect(Option.isNone(yield* Ref.get(s.closed))).toBe(true)
    }).pipe(Effect.provide(sessionLayer().pipe(Layer.provideMerge(buggyStore(1)), Layer.provide(memoryLimiter)))))
})

describe("an upload lives on through what is not its client's fault", () => {
  const metaOf = (fields: Record<string, unknown>) => JSON.stringify({ type: "file_meta", ...fields })
  const uploadIdOf = (reply: Record<string, unknown> | undefined) => String(reply?.["upload_id"])
  /** The memory store with `change` applied to its service. */
  const storeWith = (change: (store: FileStore["Type"]) => FileStore["Type"]) =>
    Layer.effect(FileStore, Effect.map(FileStore, change)).pipe(Layer.provideMerge(memoryStore))
  const withStore = (store: Layer.Layer<FileStore | MemoryFiles>) =>
    Effect.provide(sessionLayer().pipe(Layer.provideMerge(store), Layer.provide(memoryLimiter)))

  it.effect("a bug while finishing leaves the upload suspended (no open file), and a resume completes it", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      yield* s.receiveAll(meta("a.txt", 4), chunk("ab"), chunk("cd"))
      expect((yield* s.last)?.["code"]).toBe("internal_error")
      expect(yield* Effect.flatMap(MemoryFiles, (f) => f.openPartials)).toBe(0)
      const uploadId = uploadIdOf((yield* Ref.get(s.sent))[0])
      const again = yield* openSession()
      yield* again.receive(metaOf({ file_name: "a.txt", file_size: 4, upload_id: uploadId }))
      expect((yield* again.last)?.["type"]).toBe("file_received")
      expect(yield* committedText("a.txt")).toEqual(Option.some("abcd"))
    }).pipe(withStore((() => {
      let dies = 1
      return memoryStoreWith((partial) => ({
        ...partial,
        commit: (...args) => (dies-- > 0 ? Effect.die(new Error("bug")) : partial.commit(...args))
      }))
    })())))

  it.effect("a store that still has the upload open (a lapsed claim) answers busy and keeps the record", () =>
    Effect.gen(function*() {
      const uploadId = yield* suspendedUpload("a.txt", 4, "ab")
      const again = yield* openSession()
      yield* again.receive(metaOf({ file_name: "a.txt", file_size: 4, upload_id: uploadId }))
      expect(yield* again.last).toEqual({ type: "error", message: Uploads.BUSY, code: "busy" })
      expect(Option.isSome(yield* Effect.flatMap(UploadRegistry, (registry) => registry.get(uploadId)))).toBe(true)
    }).pipe(Effect.provide(UploadSession.layer(settings).pipe(
      Layer.provideMerge(Layer.mergeAll(
        storeWith((store) => ({ ...store, resume: () => Effect.fail(new FileStoreError({ reason: "Busy", cause: "open here" })) })),
        MemoryUploadRegistry.layerMemory,
        MemoryConcurrencyLimiter.layerMemory
      )),
      Layer.provide(memoryLimiter)
    ))))

  it.effect("an unreadable record is forgotten and answered as an unknown upload", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      yield* s.receive(metaOf({ file_name: "a.txt", file_size: 4, upload_id: "c".repeat(24) }))
      expect(yield* s.last).toEqual({ type: "error", message: Upload.UNKNOWN_UPLOAD, code: "unknown_upload" })
    }).pipe(
      Effect.provide(UploadSession.layer(settings).pipe(
        Layer.provide(Layer.succeed(UploadRegistry, UploadRegistry.of({
          create: () => Effect.void,
          get: () => Effect.fail(new UploadRegistryError({ reason: "Corrupt", cause: "truncated JSON" })),
          complete: () => Effect.void,
          list: Effect.succeed([]),
          remove: () => Effect.void,
          claim: () => Effect.succeedNone,
          holds: () => Effect.succeed(false)
        }))),
        Layer.provide(MemoryConcurrencyLimiter.layerMemory)
      )),
      Effect.provide(memory)
    ))
})

describe("resume and integrity", () => {
  const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")
  const metaOf = (fields: Record<string, unknown>) => JSON.stringify({ type: "file_meta", ...fields })
  const uploadIdOf = (reply: Record<string, unknown> | undefined) => String(reply?.["upload_id"])

  it.effect("meta_received hands out an unguessable upload_id and offset 0; file_received carries the sha256", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      yield* s.receiveAll(meta("a.txt", 5), chunk("hello"))
      const [metaReply, done] = yield* Ref.get(s.sent)
      expect(uploadIdOf(metaReply)).toMatch(/^[A-Za-z0-9_-]{24}$/)
      expect(metaReply?.["offset"]).toBe(0)
      expect(done?.["sha256"]).toBe(sha256("hello"))
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("a new connection resumes from the offset the server holds, and the digest covers every byte", () =>
    Effect.gen(function*() {
      const first = yield* openSession()
      yield* first.receiveAll(meta("story.txt", 11), chunk("once "), chunk("up"))
      const uploadId = uploadIdOf((yield* Ref.get(first.sent))[0])
      yield* Scope.close(first.scope, Exit.void)

      const second = yield* openSession()
      yield* second.receive(metaOf({ file_name: "story.txt", file_size: 11, upload_id: uploadId, sha256: sha256("once upon a") }))
      expect(yield* second.last).toMatchObject({ type: "meta_received", upload_id: uploadId, offset: 7 })
      yield* second.receiveAll(JSON.stringify({ type: "file_chunk", chunk: Buffer.from("on a").toString("base64"), offset: 7 }))
      expect(yield* second.last).toMatchObject({ type: "file_received", sha256: sha256("once upon a") })
      expect(yield* committedText("story.txt")).toEqual(Option.some("once upon a"))
      expect(yield* Effect.flatMap(MemoryFiles, (f) => f.partialIds)).toEqual([])
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("a resume must repeat the name and size, and an unknown id is refused", () =>
    Effect.gen(function*() {
      const first = yield* openSession()
      yield* first.receiveAll(meta("a.txt", 10), chunk("abc"))
      const uploadId = uploadIdOf((yield* Ref.get(first.sent))[0])
      yield* Scope.close(first.scope, Exit.void)
      const second = yield* openSession()
      yield* second.receive(metaOf({ file_name: "a.txt", file_size: 11, upload_id: uploadId }))
      expect(String((yield* second.last)?.["message"])).toContain("file_name and file_size must match")
      yield* second.receive(metaOf({ file_name: "a.txt", file_size: 10, upload_id: "x".repeat(24) }))
      expect(yield* second.last).toEqual({ type: "error", message: Upload.UNKNOWN_UPLOAD, code: "unknown_upload" })
      yield* second.receive(metaOf({ file_name: "a.txt", file_size: 10, upload_id: uploadId }))
      expect(yield* second.last).toMatchObject({ type: "meta_received", offset: 3 })
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("resuming the upload this connection has open continues it (say, after a lost reply)", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      yield* s.receiveAll(meta("a.txt", 6), chunk("abc"))
      const uploadId = uploadIdOf((yield* Ref.get(s.sent))[0])
      yield* s.receiveAll(metaOf({ file_name: "a.txt", file_size: 6, upload_id: uploadId }), chunk("def"))
      const sent = yield* Ref.get(s.sent)
      expect(sent[2]).toMatchObject({ type: "meta_received", upload_id: uploadId, offset: 3 })
      expect(sent[3]?.["type"]).toBe("file_received")
      expect(yield* committedText("a.txt")).toEqual(Option.some("abcdef"))
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("two writers: a second connection cannot resume an upload that is open, until the first one ends", () =>
    Effect.gen(function*() {
      const first = yield* openSession()
      yield* first.receiveAll(meta("a.txt", 10), chunk("abc"))
      const uploadId = uploadIdOf((yield* Ref.get(first.sent))[0])
      const second = yield* openSession()
      const resume = metaOf({ file_name: "a.txt", file_size: 10, upload_id: uploadId })
      yield* second.receive(resume)
      expect(yield* second.last).toEqual({ type: "error", message: Uploads.BUSY, code: "busy" })
      yield* Scope.close(first.scope, Exit.void)
      yield* second.receive(resume)
      expect(yield* second.last).toMatchObject({ type: "meta_received", offset: 3 })
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("a checksum mismatch is refused, the data discarded, and nothing published", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      yield* s.receiveAll(metaOf({ file_name: "a.txt", file_size: 5, sha256: sha256("HELLO").toUpperCase() }), chunk("hello"))
      const last = yield* s.last
      expect(last?.["type"]).toBe("error")
      expect(String(last?.["message"])).toContain(`sha256 ${sha256("hello")}, not ${sha256("HELLO")}`)
      expect(HashMap.size(yield* committed)).toBe(0)
      expect(yield* Effect.flatMap(MemoryFiles, (f) => f.partialIds)).toEqual([])
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("a chunk at the wrong offset is refused with the expected offset and changes nothing", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      const at = (text: string, offset: number) => JSON.stringify({ type: "file_chunk", chunk: Buffer.from(text).toString("base64"), offset })
      yield* s.receiveAll(meta("a.txt", 6), at("abc", 0), at("abc", 0), at("def", 3))
      const sent = yield* Ref.get(s.sent)
      expect(sent[2]?.["message"]).toBe("Chunk offset 0 is not where the upload is: the server has 3 bytes; send the chunk at offset 3")
      expect(sent[3]?.["type"]).toBe("file_received")
      expect(yield* committedText("a.txt")).toEqual(Option.some("abcdef"))
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("cancel discards the upload at once and the id can no longer be resumed", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      yield* s.receiveAll(meta("a.txt", 10), chunk("abc"), JSON.stringify({ type: "cancel" }))
      expect(yield* s.last).toEqual({ type: "upload_cancelled", message: "Upload cancelled and discarded" })
      expect(yield* Effect.flatMap(MemoryFiles, (f) => f.partialIds)).toEqual([])
      const uploadId = uploadIdOf((yield* Ref.get(s.sent))[0])
      yield* s.receiveAll(metaOf({ file_name: "a.txt", file_size: 10, upload_id: uploadId }), JSON.stringify({ type: "cancel" }))
      const sent = yield* Ref.get(s.sent)
      expect(sent.slice(-2).map((m) => m["message"])).toEqual([Upload.UNKNOWN_UPLOAD, Upload.NO_UPLOAD])
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("unfinished uploads expire UPLOAD_EXPIRY after their last chunk (TestClock), never while claimed", () =>
    Effect.gen(function*() {
      const expiry = Duration.hours(24)
      const idle = yield* openSession()
      yield* idle.receiveAll(meta("idle.txt", 10), chunk("abc"))
      yield* Scope.close(idle.scope, Exit.void)
      const busy = yield* openSession()
      yield* busy.receiveAll(meta("busy.txt", 10), chunk("abc"))
      const partials = Effect.flatMap(MemoryFiles, (f) => f.partialIds)
      expect((yield* partials).length).toBe(2)

      yield* TestClock.adjust(Duration.hours(23))
      expect(yield* UploadExpiry.sweep(expiry)).toBe(0)
      yield* TestClock.adjust(Duration.hours(1))
      expect(yield* UploadExpiry.sweep(expiry)).toBe(1)
      expect((yield* partials).length).toBe(1)

      const idleId = uploadIdOf((yield* Ref.get(idle.sent))[0])
      const late = yield* openSession()
      yield* late.receive(metaOf({ file_name: "idle.txt", file_size: 10, upload_id: idleId }))
      expect(yield* late.last).toEqual({ type: "error", message: Upload.UNKNOWN_UPLOAD, code: "unknown_upload" })
    }).pipe(Effect.provide(Layer.provideMerge(UploadSession.layer(settings), Layer.merge(MemoryUploadRegistry.layerMemory, memory)))))

  it.effect("the sweep also removes expired records left without a partial file (a crash between the two)", () =>
    Effect.gen(function*() {
      const registry = yield* UploadRegistry
      yield* registry.create({ uploadId: "o".repeat(24), fileName: "orphan.txt", size: 5, expectedSha256: undefined, createdAt: 0 })
      yield* TestClock.adjust(Duration.hours(1))
      expect(yield* UploadExpiry.sweep(Duration.hours(2))).toBe(0)
      yield* TestClock.adjust(Duration.hours(1))
      expect(yield* UploadExpiry.sweep(Duration.hours(2))).toBe(1)
      expect(yield* registry.list).toEqual([])
    }).pipe(Effect.provide(Layer.merge(MemoryUploadRegistry.layerMemory, memory))))

  it.effect("the sweep runs by itself in the background", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      yield* s.receiveAll(meta("idle.txt", 10), chunk("abc"))
      yield* Scope.close(s.scope, Exit.void)
      yield* TestClock.adjust(Duration.minutes(61))
      expect(yield* Effect.flatMap(MemoryFiles, (f) => f.partialIds)).toEqual([])
    }).pipe(Effect.provide(Layer.provideMerge(
      Layer.merge(UploadSession.layer(settings), UploadExpiry.layer({ expiry: Duration.hours(1), interval: Duration.minutes(1) })),
      Layer.merge(MemoryUploadRegistry.layerMemory, memory)
    ))))
})

describe("completion is idempotent; resume is bound to who started the upload", () => {
  const metaOf = (fields: Record<string, unknown>) => JSON.stringify({ type: "file_meta", ...fields })
  const uploadIdOf = (reply: Record<string, unknown> | undefined) => String(reply?.["upload_id"])
  const sha256 = (text: string) => createHash("sha256").update(text).digest("hex")

  /** Completes "a.txt" (abcdef) on a session of its own; its upload id and file_received. */
  const completeOne = (identity?: string) =>
    Effect.gen(function*() {
      const s = yield* openSession(undefined, identity)
      yield* s.receiveAll(meta("a.txt", 6), chunk("abc"), chunk("def"))
      const sent = yield* Ref.get(s.sent)
      yield* Scope.close(s.scope, Exit.void)
      return { uploadId: uploadIdOf(sent[0]), fileReceived: sent.at(-1) }
    })

  it.effect("a resume of a completed upload is answered with the same file_received, and nothing new is stored", () =>
    Effect.gen(function*() {
      const { fileReceived, uploadId } = yield* completeOne()
      expect(fileReceived).toMatchObject({ type: "file_received", sha256: sha256("abcdef") })
      const again = yield* openSession()
      yield* again.receive(metaOf({ file_name: "a.txt", file_size: 6, upload_id: uploadId }))
      yield* again.receive(metaOf({ file_name: "a.txt", file_size: 6, upload_id: uploadId, sha256: sha256("abcdef") }))
      expect(yield* again.types).toEqual(["file_received", "file_received"])
      expect((yield* Ref.get(again.sent))[0]).toEqual(fileReceived)
      // Nothing is open: a chunk now has no upload to go to.
      yield* again.receive(chunk("x"))
      expect(yield* again.last).toEqual({ type: "error", message: Upload.NO_UPLOAD, code: "no_upload" })
      expect(Array.from(HashMap.keys(yield* committed))).toEqual(["a.txt"])
      expect(yield* Effect.flatMap(MemoryFiles, (f) => f.partialIds)).toEqual([])
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("a resume of a completed upload must still repeat its name, size and digest", () =>
    Effect.gen(function*() {
      const { uploadId } = yield* completeOne()
      const again = yield* openSession()
      yield* again.receive(metaOf({ file_name: "a.txt", file_size: 7, upload_id: uploadId }))
      expect(String((yield* again.last)?.["message"])).toContain("file_name and file_size must match")
      yield* again.receive(metaOf({ file_name: "b.txt", file_size: 6, upload_id: uploadId }))
      expect(String((yield* again.last)?.["message"])).toContain("file_name and file_size must match")
      yield* again.receive(metaOf({ file_name: "a.txt", file_size: 6, upload_id: uploadId, sha256: sha256("abcdeF") }))
      expect(yield* again.last).toEqual({ type: "error", message: "Cannot resume: sha256 differs from the one the upload started with", code: "resume_mismatch" })
      expect(HashMap.size(yield* committed)).toBe(1)
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("a completed upload is remembered for the expiry after it completed, then forgotten (TestClock)", () =>
    Effect.gen(function*() {
      const expiry = Duration.hours(24)
      const { uploadId } = yield* completeOne()
      const resume = metaOf({ file_name: "a.txt", file_size: 6, upload_id: uploadId })
      yield* TestClock.adjust(Duration.hours(23))
      expect(yield* UploadExpiry.sweep(expiry)).toBe(0)
      const before = yield* openSession()
      yield* before.receive(resume)
      expect((yield* before.last)?.["type"]).toBe("file_received")
      yield* TestClock.adjust(Duration.hours(2))
      // Forgotten, not expired: the sweep counts (and reports) only unfinished uploads.
      expect(yield* UploadExpiry.sweep(expiry)).toBe(0)
      const after = yield* openSession()
      yield* after.receive(resume)
      expect(yield* after.last).toEqual({ type: "error", message: Upload.UNKNOWN_UPLOAD, code: "unknown_upload" })
    }).pipe(Effect.provide(Layer.provideMerge(UploadSession.layer(settings), Layer.merge(MemoryUploadRegistry.layerMemory, memory)))))

  it.effect("only the identity that started an upload may resume it: others get the answer an unknown id gets", () =>
    Effect.gen(function*() {
      const started = yield* openSession(undefined, "alice")
      yield* started.receiveAll(meta("a.txt", 6), chunk("abc"))
      const uploadId = uploadIdOf((yield* Ref.get(started.sent))[0])
      yield* Scope.close(started.scope, Exit.void)
      const resume = metaOf({ file_name: "a.txt", file_size: 6, upload_id: uploadId })
      for (const other of ["bob", undefined]) {
        const s = yield* openSession(undefined, other)
        yield* s.receiveAll(resume, JSON.stringify({ type: "cancel" }))
        expect((yield* Ref.get(s.sent)).map((m) => m["message"])).toEqual([Upload.UNKNOWN_UPLOAD, Upload.NO_UPLOAD])
        yield* Scope.close(s.scope, Exit.void)
      }
      expect(yield* Effect.flatMap(MemoryFiles, (f) => f.partialIds)).toEqual([uploadId])
      const owner = yield* openSession(undefined, "alice")
      yield* owner.receive(resume)
      expect(yield* owner.last).toMatchObject({ type: "meta_received", offset: 3 })
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))

  it.effect("a completed upload is reported again only to the identity that uploaded it", () =>
    Effect.gen(function*() {
      const { uploadId } = yield* completeOne("alice")
      const resume = metaOf({ file_name: "a.txt", file_size: 6, upload_id: uploadId })
      const bob = yield* openSession(undefined, "bob")
      yield* bob.receive(resume)
      expect(yield* bob.last).toEqual({ type: "error", message: Upload.UNKNOWN_UPLOAD, code: "unknown_upload" })
      const alice = yield* openSession(undefined, "alice")
      yield* alice.receive(resume)
      expect((yield* alice.last)?.["type"]).toBe("file_received")
    }).pipe(Effect.provide(sessionLayer()), Effect.provide(memory)))
})
