/**
 * Resume and integrity on in-memory backends: upload ids and offsets, the
 * digest over every byte, who may resume, expiry of unfinished uploads, and
 * a completed upload answered again with its file_received.
 */
import { describe, expect } from "@effect/vitest"
import { Duration, Effect, HashMap, Layer, Option, TestClock } from "effect"
import { UploadRegistry } from "../../../src/application/ports/UploadRegistry.js"
import * as UploadSession from "../../../src/application/session/UploadSession.js"
import * as Upload from "../../../src/domain/Upload.js"
import * as Uploads from "../../../src/application/uploads/Uploads.js"
import * as UploadExpiry from "../../../src/application/uploads/UploadExpiry.js"
import {
  backends,
  cancel,
  chunk,
  committed,
  committedText,
  digestPlacements,
  layerPerTest,
  meta,
  openSession,
  partialIds,
  sessionLayer,
  sessionOver,
  sha256,
  suspendedUpload,
  uploadIdOf
} from "../support/session.js"

const settings: UploadSession.SessionSettings = {
  upload: { maxFileBytes: 1024, maxChunkBytes: 256, allowedExtensions: ["txt", "pdf"] },
  rateLimit: { limit: 20, window: Duration.seconds(60) }
}

for (const [where, digests] of digestPlacements) {
  const inSession = layerPerTest(sessionLayer(settings, { digests }))

  describe(`resume and integrity, digests ${where}`, () => {
    inSession((it) => {
      it.effect("meta_received hands out an unguessable upload_id and offset 0; file_received carries the sha256", () =>
        Effect.gen(function*() {
          const s = yield* openSession()
          yield* s.receive(meta("a.txt", 5), chunk("hello"))
          const [metaReply, done] = yield* s.replies
          expect(uploadIdOf(metaReply)).toMatch(/^[A-Za-z0-9_-]{24}$/)
          expect(metaReply?.["offset"]).toBe(0)
          expect(done?.["sha256"]).toBe(sha256("hello"))
        }))

      it.effect("a new connection resumes from the offset the server holds, and the digest covers every byte", () =>
        Effect.gen(function*() {
          const uploadId = yield* suspendedUpload("story.txt", 11, "once ", "up")

          const second = yield* openSession()
          yield* second.receive(meta("story.txt", 11, { upload_id: uploadId, sha256: sha256("once upon a") }))
          expect(yield* second.last).toMatchObject({ type: "meta_received", upload_id: uploadId, offset: 7 })
          yield* second.receive(chunk("on a", 7))
          expect(yield* second.last).toMatchObject({ type: "file_received", sha256: sha256("once upon a") })
          expect(yield* committedText("story.txt")).toEqual(Option.some("once upon a"))
          expect(yield* partialIds).toEqual([])
        }))

      it.effect("a resume must repeat the name and size, and an unknown id is refused", () =>
        Effect.gen(function*() {
          const uploadId = yield* suspendedUpload("a.txt", 10, "abc")
          const second = yield* openSession()
          yield* second.receive(meta("a.txt", 11, { upload_id: uploadId }))
          expect(String((yield* second.last)?.["message"])).toContain("file_name and file_size must match")
          yield* second.receive(meta("a.txt", 10, { upload_id: "x".repeat(24) }))
          expect(yield* second.last).toEqual({ type: "error", message: Upload.UNKNOWN_UPLOAD, code: "unknown_upload" })
          yield* second.receive(meta("a.txt", 10, { upload_id: uploadId }))
          expect(yield* second.last).toMatchObject({ type: "meta_received", offset: 3 })
        }))

      it.effect("resuming the upload this connection has open continues it (say, after a lost reply)", () =>
        Effect.gen(function*() {
          const s = yield* openSession()
          yield* s.receive(meta("a.txt", 6), chunk("abc"))
          const uploadId = yield* s.uploadId
          yield* s.receive(meta("a.txt", 6, { upload_id: uploadId }), chunk("def"))
          const sent = yield* s.replies
          expect(sent[2]).toMatchObject({ type: "meta_received", upload_id: uploadId, offset: 3 })
          expect(sent[3]?.["type"]).toBe("file_received")
          expect(yield* committedText("a.txt")).toEqual(Option.some("abcdef"))
        }))

      it.effect("two writers: a second connection cannot resume an upload that is open, until the first one ends", () =>
        Effect.gen(function*() {
          const first = yield* openSession()
          yield* first.receive(meta("a.txt", 10), chunk("abc"))
          const uploadId = yield* first.uploadId
          const second = yield* openSession()
          const resume = meta("a.txt", 10, { upload_id: uploadId })
          yield* second.receive(resume)
          expect(yield* second.last).toEqual({ type: "error", message: Uploads.BUSY, code: "busy" })
          yield* first.end
          yield* second.receive(resume)
          expect(yield* second.last).toMatchObject({ type: "meta_received", offset: 3 })
        }))

      it.effect("a checksum mismatch is refused, the data discarded, and nothing published", () =>
        Effect.gen(function*() {
          const s = yield* openSession()
          yield* s.receive(meta("a.txt", 5, { sha256: sha256("HELLO").toUpperCase() }), chunk("hello"))
          const last = yield* s.last
          expect(last?.["type"]).toBe("error")
          expect(String(last?.["message"])).toContain(`sha256 ${sha256("hello")}, not ${sha256("HELLO")}`)
          expect(HashMap.size(yield* committed)).toBe(0)
          expect(yield* partialIds).toEqual([])
        }))

      it.effect("a chunk at the wrong offset is refused with the expected offset and changes nothing", () =>
        Effect.gen(function*() {
          const s = yield* openSession()
          yield* s.receive(meta("a.txt", 6), chunk("abc", 0), chunk("abc", 0), chunk("def", 3))
          const sent = yield* s.replies
          expect(sent[2]?.["message"]).toBe("Chunk offset 0 is not where the upload is: the server has 3 bytes; send the chunk at offset 3")
          expect(sent[3]?.["type"]).toBe("file_received")
          expect(yield* committedText("a.txt")).toEqual(Option.some("abcdef"))
        }))

      it.effect("cancel discards the upload at once and the id can no longer be resumed", () =>
        Effect.gen(function*() {
          const s = yield* openSession()
          yield* s.receive(meta("a.txt", 10), chunk("abc"), cancel)
          expect(yield* s.last).toEqual({ type: "upload_cancelled", message: "Upload cancelled and discarded" })
          expect(yield* partialIds).toEqual([])
          const uploadId = yield* s.uploadId
          yield* s.receive(meta("a.txt", 10, { upload_id: uploadId }), cancel)
          const sent = yield* s.replies
          expect(sent.slice(-2).map((m) => m["message"])).toEqual([Upload.UNKNOWN_UPLOAD, Upload.NO_UPLOAD])
        }))

      it.effect("unfinished uploads expire UPLOAD_EXPIRY after their last chunk (TestClock), never while claimed", () =>
        Effect.gen(function*() {
          const expiry = Duration.hours(24)
          const idle = yield* openSession()
          yield* idle.receive(meta("idle.txt", 10), chunk("abc"))
          yield* idle.end
          const busy = yield* openSession()
          yield* busy.receive(meta("busy.txt", 10), chunk("abc"))
          expect((yield* partialIds).length).toBe(2)

          yield* TestClock.adjust(Duration.hours(23))
          expect(yield* UploadExpiry.sweep(expiry)).toBe(0)
          yield* TestClock.adjust(Duration.hours(1))
          expect(yield* UploadExpiry.sweep(expiry)).toBe(1)
          expect((yield* partialIds).length).toBe(1)

          const late = yield* openSession()
          yield* late.receive(meta("idle.txt", 10, { upload_id: yield* idle.uploadId }))
          expect(yield* late.last).toEqual({ type: "error", message: Upload.UNKNOWN_UPLOAD, code: "unknown_upload" })
        }))

      it.effect("the sweep also removes expired records left without a partial file (a crash between the two)", () =>
        Effect.gen(function*() {
          const registry = yield* UploadRegistry
          yield* registry.create({ uploadId: "o".repeat(24), fileName: "orphan.txt", size: 5, expectedSha256: undefined, createdAt: 0 })
          yield* TestClock.adjust(Duration.hours(1))
          expect(yield* UploadExpiry.sweep(Duration.hours(2))).toBe(0)
          yield* TestClock.adjust(Duration.hours(1))
          expect(yield* UploadExpiry.sweep(Duration.hours(2))).toBe(1)
          expect(yield* registry.list).toEqual([])
        }))
    })

    const sweeping = UploadExpiry.layer({ expiry: Duration.hours(1), interval: Duration.minutes(1) })
    layerPerTest(sessionOver(settings, Layer.provideMerge(sweeping, backends({ digests }))))((it) => {
      it.effect("the sweep runs by itself in the background", () =>
        Effect.gen(function*() {
          yield* suspendedUpload("idle.txt", 10, "abc")
          yield* TestClock.adjust(Duration.minutes(61))
          expect(yield* partialIds).toEqual([])
        }))
    })
  })

  inSession(`completion is idempotent; resume is bound to who started the upload, digests ${where}`, (it) => {
    /** Completes "a.txt" (abcdef) on a session of its own; its upload id and file_received. */
    const completeOne = (identity?: string) =>
      Effect.gen(function*() {
        const s = yield* openSession({ identity })
        yield* s.receive(meta("a.txt", 6), chunk("abc"), chunk("def"))
        const sent = yield* s.replies
        yield* s.end
        return { uploadId: uploadIdOf(sent[0]), fileReceived: sent.at(-1) }
      })

    it.effect("a resume of a completed upload is answered with the same file_received, and nothing new is stored", () =>
      Effect.gen(function*() {
        const { fileReceived, uploadId } = yield* completeOne()
        expect(fileReceived).toMatchObject({ type: "file_received", sha256: sha256("abcdef") })
        const again = yield* openSession()
        yield* again.receive(meta("a.txt", 6, { upload_id: uploadId }))
        yield* again.receive(meta("a.txt", 6, { upload_id: uploadId, sha256: sha256("abcdef") }))
        expect(yield* again.types).toEqual(["file_received", "file_received"])
        expect((yield* again.replies)[0]).toEqual(fileReceived)
        // Nothing is open: a chunk now has no upload to go to.
        yield* again.receive(chunk("x"))
        expect(yield* again.last).toEqual({ type: "error", message: Upload.NO_UPLOAD, code: "no_upload" })
        expect(Array.from(HashMap.keys(yield* committed))).toEqual(["a.txt"])
        expect(yield* partialIds).toEqual([])
      }))

    it.effect("a resume of a completed upload must still repeat its name, size and digest", () =>
      Effect.gen(function*() {
        const { uploadId } = yield* completeOne()
        const again = yield* openSession()
        yield* again.receive(meta("a.txt", 7, { upload_id: uploadId }))
        expect(String((yield* again.last)?.["message"])).toContain("file_name and file_size must match")
        yield* again.receive(meta("b.txt", 6, { upload_id: uploadId }))
        expect(String((yield* again.last)?.["message"])).toContain("file_name and file_size must match")
        yield* again.receive(meta("a.txt", 6, { upload_id: uploadId, sha256: sha256("abcdeF") }))
        expect(yield* again.last).toEqual({ type: "error", message: "Cannot resume: sha256 differs from the one the upload started with", code: "resume_mismatch" })
        expect(HashMap.size(yield* committed)).toBe(1)
      }))

    it.effect("a completed upload is remembered for the expiry after it completed, then forgotten (TestClock)", () =>
      Effect.gen(function*() {
        const expiry = Duration.hours(24)
        const { uploadId } = yield* completeOne()
        const resume = meta("a.txt", 6, { upload_id: uploadId })
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
      }))

    it.effect("only the identity that started an upload may resume it: others get the answer an unknown id gets", () =>
      Effect.gen(function*() {
        const started = yield* openSession({ identity: "alice" })
        yield* started.receive(meta("a.txt", 6), chunk("abc"))
        const uploadId = yield* started.uploadId
        yield* started.end
        const resume = meta("a.txt", 6, { upload_id: uploadId })
        for (const other of ["bob", undefined]) {
          const s = yield* openSession({ identity: other })
          yield* s.receive(resume, cancel)
          expect((yield* s.replies).map((m) => m["message"])).toEqual([Upload.UNKNOWN_UPLOAD, Upload.NO_UPLOAD])
          yield* s.end
        }
        expect(yield* partialIds).toEqual([uploadId])
        const owner = yield* openSession({ identity: "alice" })
        yield* owner.receive(resume)
        expect(yield* owner.last).toMatchObject({ type: "meta_received", offset: 3 })
      }))

    it.effect("a completed upload is reported again only to the identity that uploaded it", () =>
      Effect.gen(function*() {
        const { uploadId } = yield* completeOne("alice")
        const resume = meta("a.txt", 6, { upload_id: uploadId })
        const bob = yield* openSession({ identity: "bob" })
        yield* bob.receive(resume)
        expect(yield* bob.last).toEqual({ type: "error", message: Upload.UNKNOWN_UPLOAD, code: "unknown_upload" })
        const alice = yield* openSession({ identity: "alice" })
        yield* alice.receive(resume)
        expect((yield* alice.last)?.["type"]).toBe("file_received")
      }))
  })
}
