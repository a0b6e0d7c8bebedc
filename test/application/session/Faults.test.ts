/**
 * What is not the client's fault, on in-memory backends: a defect (a bug)
 * while handling a frame or finishing an upload, a store that still has the
 * upload open, and a record that cannot be read. The upload lives on where
 * it can, and the session goes on.
 */
import { describe, expect } from "@effect/vitest"
import { Duration, Effect, Layer, Option, Ref } from "effect"
import { FileStoreError } from "../../../src/application/ports/FileStore.js"
import { UploadRegistry, UploadRegistryError } from "../../../src/application/ports/UploadRegistry.js"
import type * as UploadSession from "../../../src/application/session/UploadSession.js"
import * as Upload from "../../../src/domain/Upload.js"
import * as Uploads from "../../../src/application/uploads/Uploads.js"
import { type LogLine, recordingLogger } from "../../support/logs.js"
import {
  chunk,
  committedText,
  layerPerTest,
  meta,
  openPartials,
  openSession,
  partialIds,
  sessionLayer,
  storeWith,
  suspendedUpload,
  uploadIdOf
} from "../support/session.js"

const settings: UploadSession.SessionSettings = {
  upload: { maxFileBytes: 1024, maxChunkBytes: 256, allowedExtensions: ["txt", "pdf"] },
  rateLimit: { limit: 20, window: Duration.seconds(60) }
}

describe("defects", () => {
  /** A store whose first `count` appends die (a bug, not a storage failure). */
  const buggyStore = (count: number) =>
    storeWith((store) =>
      Effect.map(Ref.make(count), (defects) => ({
        ...store,
        begin: (uploadId: string) =>
          Effect.map(store.begin(uploadId), (partial) => ({
            ...partial,
            append: (bytes: Uint8Array, alongside?: () => void) =>
              Effect.flatMap(Ref.getAndUpdate(defects, (n) => n - 1), (left) =>
                left > 0 ? Effect.die(new TypeError(`bug writing /srv/.${uploadId}.partial`)) : partial.append(bytes, alongside))
          }))
      }))
    )

  layerPerTest(sessionLayer(settings, { store: buggyStore(1) }))((it) => {
    it.effect("a defect while handling a frame is logged with the client, answered with internal_error, and the next frame is handled", () =>
      Effect.gen(function*() {
        const lines: Array<LogLine> = []
        const s = yield* openSession({ clientAddress: "192.0.2.7", identity: "alice" })
        const receive = (frame: string) => Effect.provide(Effect.map(s.receive(frame), ([verdict]) => verdict), recordingLogger(lines))

        const verdicts = [yield* receive(meta("a.txt", 2)), yield* receive(chunk("ab"))]
        const sent = yield* s.replies
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
        const uploadId = uploadIdOf(sent[0])
        expect(JSON.stringify(lines)).not.toContain(uploadId)
        expect(errors[0]?.annotations["upload"]).toBe(Uploads.logReference(uploadId))

        // The upload is suspended, not open (every byte answered is in the store): it can be resumed; the session goes on from Idle.
        expect(yield* openPartials).toBe(0)
        expect(yield* partialIds).toEqual([uploadId])
        verdicts.push(...(yield* Effect.forEach([chunk("ab"), meta("a.txt", 2), chunk("ab")], receive)))
        expect(verdicts).toEqual(["continue", "continue", "continue", "continue", "continue"])
        expect(yield* s.types).toEqual(["meta_received", "error", "error", "meta_received", "file_received"])
        expect((yield* s.replies)[2]?.["message"]).toBe(Upload.NO_UPLOAD)
        expect(yield* committedText("a.txt")).toEqual(Option.some("ab"))
        expect(Option.isNone(yield* s.closed)).toBe(true)
      }))
  })
})

describe("an upload lives on through what is not its client's fault", () => {
  /** The memory store whose first commit dies (a bug while finishing). */
  const commitDiesOnce = storeWith((store) =>
    Effect.map(Ref.make(1), (dies) => ({
      ...store,
      begin: (uploadId: string) =>
        Effect.map(store.begin(uploadId), (partial) => ({
          ...partial,
          commit: (...args: Parameters<typeof partial.commit>) =>
            Effect.flatMap(Ref.getAndUpdate(dies, (n) => n - 1), (left) => (left > 0 ? Effect.die(new Error("bug")) : partial.commit(...args)))
        }))
    }))
  )
  layerPerTest(sessionLayer(settings, { store: commitDiesOnce }))((it) => {
    it.effect("a bug while finishing leaves the upload suspended (no open file), and a resume completes it", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        yield* s.receive(meta("a.txt", 4), chunk("ab"), chunk("cd"))
        expect((yield* s.last)?.["code"]).toBe("internal_error")
        expect(yield* openPartials).toBe(0)
        const uploadId = yield* s.uploadId
        const again = yield* openSession()
        yield* again.receive(meta("a.txt", 4, { upload_id: uploadId }))
        expect((yield* again.last)?.["type"]).toBe("file_received")
        expect(yield* committedText("a.txt")).toEqual(Option.some("abcd"))
      }))
  })

  const stillOpen = storeWith((store) =>
    Effect.succeed({ ...store, resume: () => Effect.fail(new FileStoreError({ reason: "Busy", cause: "open here" })) })
  )
  layerPerTest(sessionLayer(settings, { store: stillOpen }))((it) => {
    it.effect("a store that still has the upload open (a lapsed claim) answers busy and keeps the record", () =>
      Effect.gen(function*() {
        const uploadId = yield* suspendedUpload("a.txt", 4, "ab")
        const again = yield* openSession()
        yield* again.receive(meta("a.txt", 4, { upload_id: uploadId }))
        expect(yield* again.last).toEqual({ type: "error", message: Uploads.BUSY, code: "busy" })
        expect(Option.isSome(yield* Effect.flatMap(UploadRegistry, (registry) => registry.get(uploadId)))).toBe(true)
      }))
  })

  const unreadable = Layer.succeed(UploadRegistry, UploadRegistry.of({
    create: () => Effect.void,
    get: () => Effect.fail(new UploadRegistryError({ reason: "Corrupt", cause: "truncated JSON" })),
    complete: () => Effect.void,
    list: Effect.succeed([]),
    remove: () => Effect.void,
    claim: () => Effect.succeedNone,
    holds: () => Effect.succeed(false)
  }))
  layerPerTest(sessionLayer(settings, { registry: unreadable }))((it) => {
    it.effect("an unreadable record is forgotten and answered as an unknown upload", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        yield* s.receive(meta("a.txt", 4, { upload_id: "c".repeat(24) }))
        expect(yield* s.last).toEqual({ type: "error", message: Upload.UNKNOWN_UPLOAD, code: "unknown_upload" })
      }))
  })
})
