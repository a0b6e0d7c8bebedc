/**
 * UploadSession on in-memory backends: the replies to each step, the rate
 * limit and storage failures. Defects and misbehaving backends are in
 * Faults.test.ts; resume, integrity and expiry in Resume.test.ts.
 */
import { describe, expect } from "@effect/vitest"
import { Duration, Effect, HashMap, Layer, Option, Ref, TestClock } from "effect"
import { FileStoreError } from "../../../src/application/ports/FileStore.js"
import { RateLimiter, RateLimiterError } from "../../../src/application/ports/RateLimiter.js"
import * as UploadSession from "../../../src/application/session/UploadSession.js"
import * as Upload from "../../../src/domain/Upload.js"
import * as Uploads from "../../../src/application/uploads/Uploads.js"
import {
  binary,
  chunk,
  committed,
  committedText,
  layerPerTest,
  meta,
  openPartials,
  openSession,
  partialIds,
  sessionLayer,
  sha256,
  storeFailing,
  storeWith
} from "../support/session.js"

const settings: UploadSession.SessionSettings = {
  upload: { maxFileBytes: 1024, maxChunkBytes: 256, allowedExtensions: ["txt", "pdf"] },
  rateLimit: { limit: 20, window: Duration.seconds(60) }
}

const inSession = layerPerTest(sessionLayer(settings))

describe("UploadSession", () => {
  inSession((it) => {
    it.effect("stores a multi-chunk upload and answers each step", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        yield* s.receive(meta("notes.txt", 11), chunk("hello "), chunk("world"))
        expect(yield* s.types).toEqual(["meta_received", "chunk_received", "file_received"])
        expect(yield* s.last).toEqual({
          type: "file_received",
          message: "File notes.txt received successfully and file extension is `txt`",
          extension: "txt",
          sha256: sha256("hello world"),
          stored_name: "notes.txt"
        })
        expect(yield* committedText("notes.txt")).toEqual(Option.some("hello world"))
      }))

    it.effect("a 0-byte file completes right after meta_received", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        yield* s.receive(meta("empty.txt", 0))
        expect(yield* s.types).toEqual(["meta_received", "file_received"])
        expect(yield* committedText("empty.txt")).toEqual(Option.some(""))
      }))

    it.effect("a name collision is reported with the stored name", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        yield* s.receive(meta("a.txt", 1), chunk("1"), meta("a.txt", 1), chunk("2"))
        expect((yield* s.last)?.["message"]).toBe("File a_1.txt received successfully and file extension is `txt`")
        expect(yield* committedText("a_1.txt")).toEqual(Option.some("2"))
      }))

    it.effect("errors keep the connection usable", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        const verdicts = yield* s.receive("not json", chunk("x"), meta("x.exe", 1), meta("ok.txt", 2), chunk("ab"))
        expect(verdicts).toEqual(["continue", "continue", "continue", "continue", "continue"])
        expect(yield* s.types).toEqual(["error", "error", "error", "meta_received", "file_received"])
        expect(Option.isNone(yield* s.closed)).toBe(true)
      }))

    it.effect("an overflowing chunk discards the upload and stores nothing", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        yield* s.receive(meta("small.txt", 4), chunk("abc"), chunk("de"), chunk("f"))
        const sent = yield* s.replies
        expect(sent[2]?.["message"]).toBe("Chunk exceeds the declared file size (4 bytes); upload discarded")
        expect(sent[3]?.["message"]).toBe(Upload.NO_UPLOAD)
        expect(HashMap.size(yield* committed)).toBe(0)
        expect(yield* openPartials).toBe(0)
      }))

    it.effect("a new file_meta mid-upload discards the unfinished file and starts over", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        yield* s.receive(meta("first.txt", 10), chunk("abc"), meta("second.txt", 2), chunk("xy"))
        expect(yield* s.types).toEqual(["meta_received", "chunk_received", "meta_received", "file_received"])
        expect([...HashMap.keys(yield* committed)]).toEqual(["second.txt"])
        expect(yield* openPartials).toBe(0)
      }))

    it.effect("closing the session mid-upload keeps the partial file for a resume, and publishes nothing", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        yield* s.receive(meta("cut.txt", 10), chunk("abc"))
        expect(yield* openPartials).toBe(1)
        yield* s.end
        expect(yield* openPartials).toBe(0)
        expect((yield* partialIds).length).toBe(1)
        expect(HashMap.size(yield* committed)).toBe(0)
      }))

    it.effect("binary frames are chunks of raw bytes, with the same replies and rules as file_chunk", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        yield* s.receive(binary("early"), meta("mixed.txt", 9), binary("abc"), chunk("def"), binary("ghij"), binary("g"))
        const sent = yield* s.replies
        expect(sent.map((m) => m["type"])).toEqual(["error", "meta_received", "chunk_received", "chunk_received", "error", "error"])
        expect(sent[0]?.["message"]).toBe(Upload.NO_UPLOAD)
        expect(sent[3]?.["received"]).toBe(6)
        expect(sent[4]?.["message"]).toBe("Chunk exceeds the declared file size (9 bytes); upload discarded")
        yield* s.receive(meta("bin.txt", 4), binary("wx"), binary("yz"))
        expect((yield* s.last)?.["type"]).toBe("file_received")
        expect(yield* committedText("bin.txt")).toEqual(Option.some("wxyz"))
      }))

    it.effect("meta_received offers binary chunks and the chunk limit; chunk_received counts the bytes", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        yield* s.receive(meta("count.txt", 10), chunk("abcd"))
        const [metaReply, chunkReply] = yield* s.replies
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
      }))
  })

  layerPerTest(sessionLayer({ ...settings, rateLimit: { limit: 3, window: Duration.seconds(60) } }))("rate limit", (it) => {
    it.effect("the message over the limit gets `Rate limit exceeded` and a 1008 close", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        const verdicts = yield* s.receive(meta("a.txt", 9), chunk("a"), "junk counts too", chunk("b"))
        expect(verdicts).toEqual(["continue", "continue", "continue", "closed"])
        expect(yield* s.last).toMatchObject({ type: "error", message: "Rate limit exceeded", code: "rate_limited" })
        expect(yield* s.closed).toEqual(Option.some(1008))
      }))

    it.effect("counts per client address across connections, and resets with the window", () =>
      Effect.gen(function*() {
        const client = (clientAddress: string) => openSession({ clientAddress })
        const first = yield* client("198.51.100.7")
        yield* first.receive("1", "2", "3")
        const second = yield* client("198.51.100.7")
        expect(yield* second.receive("4")).toEqual(["closed"])
        const other = yield* client("198.51.100.8")
        expect(yield* other.receive("1")).toEqual(["continue"])

        yield* TestClock.adjust(Duration.seconds(59))
        const stillLimited = yield* client("198.51.100.7")
        expect(yield* stillLimited.receive("5")).toEqual(["closed"])
        yield* TestClock.adjust(Duration.seconds(1))
        const nextWindow = yield* client("198.51.100.7")
        expect(yield* nextWindow.receive("1")).toEqual(["continue"])
      }))

    const unavailable = Layer.succeed(RateLimiter, {
      consume: () => Effect.fail(new RateLimiterError({ reason: "Unavailable", cause: "connection refused" }))
    })
    layerPerTest(sessionLayer(settings, { rateLimiter: unavailable }))((it) => {
      it.effect("an unavailable limiter lets messages through (fail open)", () =>
        Effect.gen(function*() {
          const s = yield* openSession()
          yield* s.receive(meta("a.txt", 1))
          expect(yield* s.types).toEqual(["meta_received"])
        }))
    })
  })

  /** The memory store whose first append fails (an I/O error); later ones work. */
  const failsOnce = storeWith((store) =>
    Effect.map(Ref.make(1), (failures) => ({
      ...store,
      begin: (uploadId: string) =>
        Effect.map(store.begin(uploadId), (partial) => ({
          ...partial,
          append: (bytes: Uint8Array, alongside?: () => void) =>
            Effect.flatMap(Ref.getAndUpdate(failures, (n) => n - 1), (left) =>
              left > 0 ? Effect.fail(new FileStoreError({ reason: "Write", cause: new Error("EIO: i/o error, write /srv/x") })) : partial.append(bytes, alongside))
        }))
    }))
  )
  layerPerTest(sessionLayer(settings, { store: failsOnce }))((it) => {
    it.effect("a storage failure is reported in user terms and the session recovers", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        yield* s.receive(meta("a.txt", 2), chunk("ab"))
        const sent = yield* s.replies
        expect(sent[1]).toEqual({ type: "error", message: UploadSession.STORAGE_UNAVAILABLE, code: "storage_unavailable" })
        expect(JSON.stringify(sent)).not.toContain("EIO")
        // Suspended, not discarded: the upload waits for a resume with what the store holds.
        const uploadId = yield* s.uploadId
        yield* s.receive(chunk("ab"), meta("a.txt", 2, { upload_id: uploadId }), chunk("ab"))
        expect(yield* s.types).toEqual(["meta_received", "error", "error", "meta_received", "file_received"])
        expect((yield* s.replies)[3]).toMatchObject({ upload_id: uploadId, offset: 0 })
      }))
  })

  inSession((it) => {
    it.effect("a full disk or a failed commit discards the upload, and says so", () =>
      Effect.gen(function*() {
        const cases = [
          ["append", Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }), Uploads.DISK_FULL, "disk_full"],
          ["commit", new Error("EIO: i/o error, link"), Uploads.STORAGE_FAILED, "storage_failed"]
        ] as const
        for (const [where, cause, message, code] of cases) {
          const s = yield* Effect.provide(openSession(), sessionLayer(settings, { store: storeFailing(where, cause) }))
          yield* s.receive(meta("a.txt", 2), chunk("ab"))
          expect(yield* s.last).toEqual({ type: "error", message, code })
        }
      }))
  })
})
