/**
 * INTEGRITY=requested as a connection sees it: an upload whose client gives
 * no digest is stored unhashed and its file_received carries no sha256; one
 * that declares a digest (at the start or at a resume) is hashed over every
 * byte and checked; a completed upload stored without a digest cannot be
 * confirmed against one asked for later. The default hashes every upload.
 */
import { describe, expect } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import type * as Uploads from "../../../src/application/uploads/Uploads.js"
import type * as UploadSession from "../../../src/application/session/UploadSession.js"
import {
  chunk,
  committedText,
  digestPlacements,
  events,
  layerPerTest,
  meta,
  openSession,
  sessionLayer,
  sha256,
  suspendedUpload
} from "../support/session.js"

const settings = (integrity: Uploads.UploadOptions["integrity"]): UploadSession.SessionSettings => ({
  upload: { maxFileBytes: 1024, maxChunkBytes: 256, allowedExtensions: ["txt"] },
  rateLimit: { limit: 100, window: Duration.seconds(60) },
  checks: { contentCheck: false, minFreeBytes: 0, ...(integrity === undefined ? {} : { integrity }) }
})

for (const [where, digests] of digestPlacements) {
  describe(`INTEGRITY=requested, digests ${where}`, () => {
    layerPerTest(sessionLayer(settings("requested"), { digests }))((it) => {
      it.effect("an upload that declares no digest is stored, and file_received carries no sha256", () =>
        Effect.gen(function*() {
          const s = yield* openSession()
          yield* s.receive(meta("a.txt", 5), chunk("hel"), chunk("lo"))
          const done = yield* s.last
          expect(done).toMatchObject({ type: "file_received", extension: "txt", stored_name: "a.txt" })
          expect(done).not.toHaveProperty("sha256")
          expect(yield* committedText("a.txt")).toEqual(Option.some("hello"))
          const completed = (yield* events).find((event) => event.type === "upload.completed")
          expect(completed).toMatchObject({ stored_name: "a.txt" })
          expect(completed).not.toHaveProperty("sha256")
        }))

      it.effect("a declared digest is still checked: the right one is confirmed, a wrong one refused", () =>
        Effect.gen(function*() {
          const s = yield* openSession()
          yield* s.receive(meta("good.txt", 5, { sha256: sha256("hello") }), chunk("hello"))
          expect(yield* s.last).toMatchObject({ type: "file_received", sha256: sha256("hello") })
          expect((yield* events).find((event) => event.type === "upload.completed")).toMatchObject({ sha256: sha256("hello") })
          yield* s.receive(meta("bad.txt", 5, { sha256: sha256("other") }), chunk("hello"))
          expect(yield* s.last).toMatchObject({ type: "error", code: "checksum_mismatch" })
          expect(yield* committedText("bad.txt")).toEqual(Option.none())
        }))

      it.effect("a digest first declared at a resume covers the bytes held from before it", () =>
        Effect.gen(function*() {
          const uploadId = yield* suspendedUpload("story.txt", 11, "once ", "up")
          const second = yield* openSession()
          yield* second.receive(meta("story.txt", 11, { upload_id: uploadId, sha256: sha256("once upon a") }), chunk("on a", 7))
          expect(yield* second.last).toMatchObject({ type: "file_received", sha256: sha256("once upon a") })

          const wrong = yield* suspendedUpload("tale.txt", 11, "once ", "up")
          const third = yield* openSession()
          yield* third.receive(meta("tale.txt", 11, { upload_id: wrong, sha256: sha256("once upon b") }), chunk("on a", 7))
          expect(yield* third.last).toMatchObject({ type: "error", code: "checksum_mismatch" })
        }))

      it.effect("a digest declared at the start still holds at a resume that repeats none", () =>
        Effect.gen(function*() {
          const first = yield* openSession()
          yield* first.receive(meta("kept.txt", 11, { sha256: sha256("once upon a") }), chunk("once "), chunk("up"))
          const uploadId = yield* first.uploadId
          yield* first.end
          const second = yield* openSession()
          yield* second.receive(meta("kept.txt", 11, { upload_id: uploadId }), chunk("on a", 7))
          expect(yield* second.last).toMatchObject({ type: "file_received", sha256: sha256("once upon a") })

          const wrong = yield* openSession()
          yield* wrong.receive(meta("lost.txt", 11, { sha256: sha256("once upon b") }), chunk("once "), chunk("up"))
          const wrongId = yield* wrong.uploadId
          yield* wrong.end
          const third = yield* openSession()
          yield* third.receive(meta("lost.txt", 11, { upload_id: wrongId }), chunk("on a", 7))
          expect(yield* third.last).toMatchObject({ type: "error", code: "checksum_mismatch" })
        }))

      it.effect("a completed upload stored without a digest is answered again the same way, but not confirmed against one asked for later", () =>
        Effect.gen(function*() {
          const s = yield* openSession()
          yield* s.receive(meta("once.txt", 5), chunk("hello"))
          const uploadId = yield* s.uploadId
          const again = yield* openSession()
          yield* again.receive(meta("once.txt", 5, { upload_id: uploadId }))
          const repeated = yield* again.last
          expect(repeated).toMatchObject({ type: "file_received", stored_name: "once.txt" })
          expect(repeated).not.toHaveProperty("sha256")
          yield* again.receive(meta("once.txt", 5, { upload_id: uploadId, sha256: sha256("hello") }))
          expect(yield* again.last).toEqual({
            type: "error",
            code: "resume_mismatch",
            message: "Cannot resume: the upload was stored without a sha256, so the one given cannot be confirmed"
          })
        }))
    })
  })
}

describe("INTEGRITY=sha256 (the default)", () => {
  layerPerTest(sessionLayer(settings(undefined)))((it) => {
    it.effect("every upload is hashed: file_received carries the sha256 of a file that declared none", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        yield* s.receive(meta("a.txt", 5), chunk("hello"))
        expect(yield* s.last).toMatchObject({ type: "file_received", sha256: sha256("hello") })
      }))
  })
})
