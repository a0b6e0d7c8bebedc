/**
 * Upload events and the pre-upload hook, seen from the session: which
 * outcome emits which event, with which fields, and how the hook's verdict
 * is carried out. In-memory adapters throughout; a takeover runs on two
 * instances that share them.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, HashMap, Layer, Option, Ref, TestClock } from "effect"
import * as Refusals from "../../../src/domain/Refusals.js"
import { FileStore, FileStoreError, type PartialFile } from "../../../src/application/ports/FileStore.js"
import { HookVerdict, PreUploadHook, type UploadRequest } from "../../../src/application/ports/PreUploadHook.js"
import { UploadRegistry } from "../../../src/application/ports/UploadRegistry.js"
import * as Uploads from "../../../src/application/uploads/Uploads.js"
import * as UploadExpiry from "../../../src/application/uploads/UploadExpiry.js"
import * as UploadSession from "../../../src/application/session/UploadSession.js"
import {
  backends,
  cancel,
  chunk,
  CLIENT_ADDRESS,
  committed,
  events,
  failedUploads,
  layerPerTest,
  meta,
  openOn,
  openSession,
  partialIds,
  sessionLayer,
  sessionOver,
  sha256,
  storeFailing
} from "../support/session.js"

const settings: UploadSession.SessionSettings = {
  upload: { maxFileBytes: 1024, maxChunkBytes: 256, allowedExtensions: ["txt", "pdf"] },
  rateLimit: { limit: 100, window: Duration.seconds(60) }
}

/**
 * Two instances of the session over one store and one registry, as two
 * processes share a directory and Redis. A claim is held by an instance:
 * `holds` answers for that instance only. A partial file open on one
 * instance can be reopened on the other, and then both append to the one
 * file. `lapse(id)` ends the claim as if its instance could not renew it in
 * time.
 */
const twoInstances = Effect.gen(function*() {
  const store = yield* FileStore
  const registry = yield* UploadRegistry
  const claims = new Map<string, { readonly holder: string; readonly release: Effect.Effect<void> }>()
  const writers = new Map<string, { readonly holder: string; readonly partial: PartialFile }>()

  const instance = (name: string) => {
    const ours = (uploadId: string) => writers.get(uploadId)?.holder === name
    // Appends go to the shared file from whichever instance has it open; closing or publishing is for the one that opened it last.
    const opened = (uploadId: string, partial: PartialFile): PartialFile => {
      writers.set(uploadId, { holder: name, partial })
      return {
        ...partial,
        commit: (...args) =>
          ours(uploadId) ? partial.commit(...args) : Effect.fail(new FileStoreError({ reason: "Commit", cause: "not open on this instance" })),
        discard: Effect.suspend(() => (ours(uploadId) ? partial.discard : Effect.void)),
        suspend: Effect.suspend(() => (ours(uploadId) ? partial.suspend : Effect.void))
      }
    }
    const instanceStore = FileStore.of({
      ...store,
      begin: (uploadId) => Effect.map(store.begin(uploadId), (partial) => opened(uploadId, partial)),
      resume: (uploadId) =>
        Effect.suspend(() => {
          // Open on the other instance, which this one cannot see: the memory store is told it is closed, so it reopens it.
          const other = writers.get(uploadId)
          return Effect.zipRight(other !== undefined && other.holder !== name ? other.partial.suspend : Effect.void, store.resume(uploadId))
        }).pipe(Effect.map(Option.map((reopened) => ({ ...reopened, partial: opened(uploadId, reopened.partial) }))))
    })
    const instanceRegistry = UploadRegistry.of({
      ...registry,
      claim: (uploadId) =>
        Effect.map(registry.claim(uploadId), Option.map((release) => {
          claims.set(uploadId, { holder: name, release })
          return Effect.zipRight(release, Effect.sync(() => claims.get(uploadId)?.holder === name && claims.delete(uploadId)))
        })),
      holds: (uploadId) => Effect.sync(() => claims.get(uploadId)?.holder === name)
    })
    return UploadSession.make(settings).pipe(
      Effect.provideService(FileStore, instanceStore),
      Effect.provideService(UploadRegistry, instanceRegistry)
    )
  }
  const lapse = (uploadId: string) =>
    Effect.suspend(() => {
      const claim = claims.get(uploadId)
      claims.delete(uploadId)
      return claim?.release ?? Effect.void
    })
  return { a: yield* instance("A"), b: yield* instance("B"), lapse }
})

layerPerTest(sessionLayer(settings))("upload events", (it) => {
  it.effect("a completed upload emits upload.completed with the upload's details", () =>
    Effect.gen(function*() {
      const s = yield* openSession({ identity: "alice" })
      yield* s.receive(meta("notes.txt", 11), chunk("hello "), chunk("world"))
      const uploadId = yield* s.uploadId
      const [event, ...rest] = yield* events
      expect(rest).toEqual([])
      expect(event).toMatchObject({
        type: "upload.completed",
        upload_id: uploadId,
        upload_ref: Uploads.logReference(uploadId),
        file_name: "notes.txt",
        stored_name: "notes.txt",
        size: 11,
        extension: "txt",
        sha256: sha256("hello world"),
        client_address: CLIENT_ADDRESS,
        identity: "alice",
        started_at: new Date(0).toISOString(),
        occurred_at: new Date(0).toISOString()
      })
      expect(event?.id).toMatch(/^[0-9a-f-]{36}$/)
      expect(event).not.toHaveProperty("reason")
    }))

  it.effect("the file_type a file_meta gives goes into the upload's events, through a resume too", () =>
    Effect.gen(function*() {
      const first = yield* openSession()
      yield* first.receive(meta("typed.txt", 11, { file_type: "text/plain" }), chunk("hello "))
      const uploadId = yield* first.uploadId
      yield* first.end
      const second = yield* openSession()
      yield* second.receive(meta("typed.txt", 11, { upload_id: uploadId }), chunk("world"))
      expect((yield* events).map((e) => [e.type, e.file_type])).toEqual([["upload.completed", "text/plain"]])
    }))

  it.effect("cancel emits upload.cancelled (reason cancelled); a new file_meta mid-upload emits it with reason replaced", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      yield* s.receive(meta("a.txt", 10), chunk("abc"), cancel)
      yield* s.receive(meta("b.txt", 10), chunk("abc"), meta("c.txt", 1))
      const all = yield* events
      expect(all.map((e) => [e.type, e.file_name, e.reason])).toEqual([
        ["upload.cancelled", "a.txt", "cancelled"],
        ["upload.cancelled", "b.txt", "replaced"]
      ])
      expect(all.every((e) => e.identity === undefined && !("identity" in e))).toBe(true)
    }))

  it.effect("overflow and checksum mismatch emit upload.failed with their reason; a refused file_meta emits nothing", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      yield* s.receive(meta("x.exe", 3), meta("big.txt", 4096))
      expect(yield* events).toEqual([])
      yield* s.receive(meta("a.txt", 2), chunk("abc"))
      yield* s.receive(meta("b.txt", 2, { sha256: "0".repeat(64) }), chunk("ab"))
      expect((yield* events).map((e) => [e.type, e.file_name, e.reason])).toEqual([
        ["upload.failed", "a.txt", "overflow"],
        ["upload.failed", "b.txt", "checksum"]
      ])
    }))

  layerPerTest(sessionLayer(settings, { store: storeFailing("commit", new Error("EIO")) }))((it) => {
    it.effect("a failed commit emits upload.failed with reason storage", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        yield* s.receive(meta("a.txt", 2), chunk("ab"))
        expect((yield* events).map((e) => [e.type, e.reason])).toEqual([["upload.failed", "storage"]])
      }))
  })

  layerPerTest(sessionLayer(settings, { store: storeFailing("append", new Error("EIO")) }))((it) => {
    it.effect("a store that cannot be written suspends the upload: no event, it has not ended", () =>
      Effect.gen(function*() {
        const s = yield* openSession()
        yield* s.receive(meta("a.txt", 4), chunk("ab"))
        expect(yield* events).toEqual([])
      }))
  })

  it.effect("a dropped connection emits nothing (the upload is kept for a resume); the resumed upload completes once", () =>
    Effect.gen(function*() {
      const first = yield* openSession()
      yield* first.receive(meta("a.txt", 6), chunk("abc"))
      const uploadId = yield* first.uploadId
      yield* first.end
      expect(yield* events).toEqual([])
      const second = yield* openSession()
      yield* second.receive(meta("a.txt", 6, { upload_id: uploadId }), chunk("def"))
      expect((yield* events).map((e) => [e.type, e.upload_id])).toEqual([["upload.completed", uploadId]])
    }))

  it.effect("a takeover: the connection that lost its claim emits nothing (the upload lives on), the one that took it over emits how it ended", () =>
    Effect.gen(function*() {
      const { a, b, lapse } = yield* twoInstances
      const onA = yield* openOn(a, { clientAddress: "192.0.2.1" })
      yield* onA.receive(meta("a.txt", 6), chunk("abc"))
      const uploadId = yield* onA.uploadId
      yield* lapse(uploadId)
      const onB = yield* openOn(b, { clientAddress: "192.0.2.2" })
      yield* onB.receive(meta("a.txt", 6, { upload_id: uploadId }))
      expect(yield* onB.last).toMatchObject({ type: "meta_received", offset: 3 })

      const refusedBefore = yield* failedUploads("refused")
      yield* onA.receive(chunk("def"))
      expect(yield* onA.last).toEqual({ type: "error", ...Refusals.takenOver() })
      expect(yield* events).toEqual([])
      expect(yield* failedUploads("refused")).toBe(refusedBefore)

      // Both appended to the one file: it is never published, and the upload ends on B.
      yield* onB.receive(chunk("def"))
      expect(yield* onB.last).toEqual({ type: "error", message: Uploads.STORAGE_FAILED, code: "storage_failed" })
      expect((yield* events).map((e) => [e.type, e.reason, e.upload_id, e.client_address])).toEqual([
        ["upload.failed", "storage", uploadId, "192.0.2.2"]
      ])
      expect(HashMap.size(yield* committed)).toBe(0)
    }))

  it.effect("the expiry sweep emits upload.expired with what the record knew", () =>
    Effect.gen(function*() {
      const s = yield* openSession()
      yield* s.receive(meta("idle.txt", 10), chunk("abc"))
      const uploadId = yield* s.uploadId
      yield* s.end
      yield* TestClock.adjust(Duration.hours(2))
      expect(yield* UploadExpiry.sweep(Duration.hours(1))).toBe(1)
      const [event] = yield* events
      expect(event).toMatchObject({ type: "upload.expired", upload_id: uploadId, file_name: "idle.txt", size: 10 })
      expect(event).not.toHaveProperty("client_address")
    }))

  it.effect("a refused file_meta mid-upload ends the upload as replaced, in its event and in the metrics alike", () =>
    Effect.gen(function*() {
      const overflowsBefore = yield* failedUploads("overflow")
      const s = yield* openSession()
      yield* s.receive(meta("a.txt", 10), chunk("abc"), meta("x.exe", 1))
      expect((yield* events).map((e) => [e.type, e.reason])).toEqual([["upload.cancelled", "replaced"]])
      expect(yield* failedUploads("overflow")).toBe(overflowsBefore)
    }))
})

describe("pre-upload hook", () => {
  /** A session over the memory backends and `hook`. */
  const withHook = (hook: Layer.Layer<PreUploadHook>) => Effect.provide(sessionOver(settings, Layer.merge(backends(), hook)))

  /** A hook that refuses names starting with "no" and records what it was asked. */
  const recordingHook = (asked: Ref.Ref<ReadonlyArray<UploadRequest>>) =>
    Layer.succeed(PreUploadHook, PreUploadHook.of({
      check: (request) =>
        Effect.as(
          Ref.update(asked, (all) => [...all, request]),
          request.fileName.startsWith("no") ? HookVerdict.Refused({ reason: "Quota exceeded for alice" }) : HookVerdict.Allowed()
        )
    }))

  it.effect("a refusal answers the hook's reason as the error and opens nothing; an allowed upload proceeds", () =>
    Effect.gen(function*() {
      const asked = yield* Ref.make<ReadonlyArray<UploadRequest>>([])
      yield* Effect.gen(function*() {
        const s = yield* openSession({ identity: "alice" })
        yield* s.receive(meta("no.txt", 3), chunk("abc"), meta("yes.txt", 3, { sha256: "a".repeat(64) }))
        const sent = yield* s.replies
        expect(sent.slice(0, 3)).toEqual([
          { type: "error", message: "Quota exceeded for alice", code: "upload_refused" },
          { type: "error", message: "No upload in progress: send file_meta first", code: "no_upload" },
          expect.objectContaining({ type: "meta_received" })
        ])
        expect(yield* partialIds).toHaveLength(1)
        expect(yield* Ref.get(asked)).toEqual([
          { fileName: "no.txt", size: 3, sha256: undefined, clientAddress: CLIENT_ADDRESS, identity: "alice" },
          { fileName: "yes.txt", size: 3, sha256: "a".repeat(64), clientAddress: CLIENT_ADDRESS, identity: "alice" }
        ])
      }).pipe(withHook(recordingHook(asked)))
    }))

  it.effect("a resume is asked again: refused, it keeps the upload for later; allowed, it continues; a refused file_meta mid-upload discards the upload in progress", () =>
    Effect.gen(function*() {
      const asked = yield* Ref.make<ReadonlyArray<UploadRequest>>([])
      const refuseAll = yield* Ref.make(false)
      const switchableHook = Layer.succeed(PreUploadHook, PreUploadHook.of({
        check: (request) =>
          Effect.zipRight(
            Ref.update(asked, (all) => [...all, request]),
            Effect.map(Ref.get(refuseAll), (refuse) =>
              refuse || request.fileName.startsWith("no") ? HookVerdict.Refused({ reason: "Quota exceeded for alice" }) : HookVerdict.Allowed())
          )
      }))
      yield* Effect.gen(function*() {
        const first = yield* openSession()
        yield* first.receive(meta("a.txt", 6), chunk("abc"))
        const uploadId = yield* first.uploadId
        yield* first.end

        yield* Ref.set(refuseAll, true)
        const refused = yield* openSession()
        yield* refused.receive(meta("a.txt", 6, { upload_id: uploadId }))
        expect(yield* refused.last).toEqual({ type: "error", message: "Quota exceeded for alice", code: "upload_refused" })
        expect(yield* partialIds).toEqual([uploadId])
        yield* refused.end

        yield* Ref.set(refuseAll, false)
        const second = yield* openSession()
        yield* second.receive(meta("a.txt", 6, { upload_id: uploadId }))
        expect(yield* second.last).toMatchObject({ type: "meta_received", offset: 3 })
        expect((yield* Ref.get(asked)).map((request) => request.fileName)).toEqual(["a.txt", "a.txt", "a.txt"])
        yield* second.receive(meta("no.txt", 3))
        expect(yield* second.last).toEqual({ type: "error", message: "Quota exceeded for alice", code: "upload_refused" })
        expect(yield* partialIds).toEqual([])
        expect((yield* events).map((e) => [e.type, e.reason])).toEqual([["upload.cancelled", "replaced"]])
      }).pipe(withHook(switchableHook))
    }))
})
