/**
 * The content and disk checks as a connection sees them: a refused upload is
 * answered with a clear error and leaves nothing behind (no file, no partial,
 * no record), a resume is re-checked, and a full disk is reported in plain
 * words while the session goes on.
 */
import { describe, expect } from "@effect/vitest"
import { Duration, Effect, HashMap, Ref } from "effect"
import * as Refusals from "../../../src/domain/Refusals.js"
import * as Uploads from "../../../src/application/uploads/Uploads.js"
import { DiskSpace, DiskSpaceError } from "../../../src/application/ports/DiskSpace.js"
import { FileStoreError } from "../../../src/application/ports/FileStore.js"
import { UploadRegistry } from "../../../src/application/ports/UploadRegistry.js"
import * as UploadSession from "../../../src/application/session/UploadSession.js"
import * as MemoryDiskSpace from "../../../src/adapters/memory/MemoryDiskSpace.js"
import { ELF_HEAD, PDF_HEAD, withHead } from "../../support/content.js"
import {
  backends,
  binary,
  committed,
  events,
  failedUploads,
  layerPerTest,
  meta,
  openOn,
  partialIds,
  storeWith,
  type TestSession
} from "../support/session.js"

const settings = (checks: Uploads.UploadOptions): UploadSession.SessionSettings => ({
  upload: { maxFileBytes: 64 * 1024, maxChunkBytes: 4096, allowedExtensions: ["txt", "pdf"] },
  rateLimit: { limit: 1000, window: Duration.seconds(60) },
  checks
})
const CHECKED = { contentCheck: true, minFreeBytes: 0 }

/** Sends `bytes` as `name` in binary chunks of `size`. */
const sendFile = (s: TestSession, name: string, bytes: Uint8Array, size = 4096) =>
  s.receive(meta(name, bytes.length), ...chunks(bytes, size).map(binary))

const chunks = (bytes: Uint8Array, size: number) =>
  Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size))

/** Nothing stored, nothing partial, nothing remembered. */
const nothingLeft = Effect.gen(function*() {
  expect(HashMap.size(yield* committed)).toBe(0)
  expect(yield* partialIds).toEqual([])
  expect(yield* Effect.flatMap(UploadRegistry, (registry) => registry.list)).toEqual([])
})

const onMemory = layerPerTest(backends())

onMemory("content check", (it) => {
  it.effect("an executable named .pdf is refused with a clear error and leaves nothing behind", () =>
    Effect.gen(function*() {
      const s = yield* openOn(yield* UploadSession.make(settings(CHECKED)))
      yield* sendFile(s, "report.pdf", withHead(ELF_HEAD, 20_000))
      expect((yield* s.replies).find((reply) => reply["type"] === "error")).toEqual({ type: "error", message: "File content does not match its extension .pdf; upload discarded", code: "content_mismatch" })
      yield* nothingLeft
      yield* sendFile(s, "report.pdf", withHead(PDF_HEAD, 20_000))
      expect(yield* s.last).toMatchObject({ type: "file_received", extension: "pdf" })
    }))

  it.effect("the head is judged as soon as it is complete: later chunks are refused as outside an upload", () =>
    Effect.gen(function*() {
      const s = yield* openOn(yield* UploadSession.make(settings(CHECKED)))
      yield* sendFile(s, "early.pdf", withHead(ELF_HEAD, 20_000), 1000)
      const types = yield* s.types
      // 4 chunks of 1000 bytes are held, the 5th completes the 4100-byte head and is refused.
      expect(types.slice(0, 6)).toEqual(["meta_received", "chunk_received", "chunk_received", "chunk_received", "chunk_received", "error"])
      expect((yield* s.replies)[6]).toEqual({ type: "error", message: "No upload in progress: send file_meta first", code: "no_upload" })
    }))

  it.effect("text that is not UTF-8 is refused at the chunk that shows it", () =>
    Effect.gen(function*() {
      const s = yield* openOn(yield* UploadSession.make(settings(CHECKED)))
      yield* s.receive(meta("notes.txt", 10), binary("héllo"), binary(Buffer.from([0xc3, 0x28, 0x41, 0x42])))
      expect(yield* s.last).toEqual({
        type: "error",
        message: "File content does not match its extension .txt: expected UTF-8 text without NUL bytes; upload discarded",
        code: "content_mismatch"
      })
      yield* nothingLeft
    }))

  it.effect("without the check (CONTENT_CHECK=off) any bytes are stored", () =>
    Effect.gen(function*() {
      const s = yield* openOn(yield* UploadSession.make(settings({ contentCheck: false, minFreeBytes: 0 })))
      yield* sendFile(s, "anything.pdf", withHead(ELF_HEAD, 9000))
      expect(yield* s.last).toMatchObject({ type: "file_received" })
    }))

  it.effect("a resumed upload is checked including the bytes held from before the resume", () =>
    Effect.gen(function*() {
      const checked = yield* UploadSession.make(settings(CHECKED))
      const pdf = withHead(PDF_HEAD, 9000)
      const first = yield* openOn(checked)
      yield* first.receive(meta("long.pdf", pdf.length), binary(pdf.subarray(0, 100)))
      const uploadId = yield* first.uploadId
      yield* first.end
      const second = yield* openOn(checked)
      yield* second.receive(meta("long.pdf", pdf.length, { upload_id: uploadId }), binary(pdf.subarray(100, 4100)), binary(pdf.subarray(4100, 8000)), binary(pdf.subarray(8000)))
      expect(yield* second.last).toMatchObject({ type: "file_received", extension: "pdf" })

      // Held bytes stored while the check was off are judged on resume: refused, and the upload is gone.
      const unchecked = yield* UploadSession.make(settings({ contentCheck: false, minFreeBytes: 0 }))
      const elf = withHead(ELF_HEAD, 9000)
      const third = yield* openOn(unchecked)
      yield* third.receive(meta("sneaky.pdf", elf.length), binary(elf.subarray(0, 4096)), binary(elf.subarray(4096, 8000)))
      const sneakyId = yield* third.uploadId
      yield* third.end
      const fourth = yield* openOn(checked)
      yield* fourth.receive(meta("sneaky.pdf", elf.length, { upload_id: sneakyId }))
      expect(yield* fourth.last).toEqual({ type: "error", message: "File content does not match its extension .pdf; upload discarded", code: "content_mismatch" })
      expect(yield* partialIds).toEqual([])
      // Receivers hear that it ended, though it never opened on the resuming connection.
      expect((yield* events).at(-1)).toMatchObject({ type: "upload.failed", reason: "content", upload_id: sneakyId, file_name: "sneaky.pdf" })
    }))
})

describe("disk space", () => {
  /** Sessions that keep `minFreeBytes` free on a disk with `free` bytes (changeable through the Ref). */
  const onDisk = (free: number, minFreeBytes: number) =>
    Effect.gen(function*() {
      const disk = yield* MemoryDiskSpace.make(free)
      const sessions = yield* UploadSession.make(settings({ contentCheck: true, minFreeBytes })).pipe(
        Effect.provideService(DiskSpace, disk.diskSpace)
      )
      return { sessions, free: disk.free }
    })

  /** Starts a 600-byte upload with 100 bytes on a disk with room, and drops it: its id. */
  const suspendedAt100 = (sessions: UploadSession.UploadSession["Type"]) =>
    Effect.gen(function*() {
      const first = yield* openOn(sessions)
      yield* first.receive(meta("big.txt", 600), binary(Buffer.alloc(100, 97)))
      yield* first.end
      return yield* first.uploadId
    })

  onMemory((it) => {
    it.effect("a new upload that would leave less than the minimum free is refused before anything is stored", () =>
      Effect.gen(function*() {
        const { free, sessions } = yield* onDisk(1500, 1000)
        const s = yield* openOn(sessions)
        yield* s.receive(meta("big.txt", 501))
        expect(yield* s.last).toEqual({ type: "error", message: "Not enough free disk space on the server for 501 bytes; try again later", code: "insufficient_storage" })
        yield* nothingLeft
        yield* sendFile(s, "fits.txt", Buffer.alloc(500, 97))
        expect(yield* s.last).toMatchObject({ type: "file_received" })
        yield* Ref.set(free, 10_000)
        yield* sendFile(s, "big.txt", Buffer.alloc(501, 97))
        expect(yield* s.last).toMatchObject({ type: "file_received" })
      }))

    it.effect("a resume is refused when the bytes still to come would leave less than the minimum free; the upload is kept for later", () =>
      Effect.gen(function*() {
        const { free, sessions } = yield* onDisk(10_000, 1000)
        const uploadId = yield* suspendedAt100(sessions)
        // 500 bytes to come would leave 900 free.
        yield* Ref.set(free, 1400)
        const s = yield* openOn(sessions)
        const resume = meta("big.txt", 600, { upload_id: uploadId })
        yield* s.receive(resume)
        expect(yield* s.last).toEqual({ type: "error", ...Refusals.noRoom(500) })
        expect(yield* partialIds).toEqual([uploadId])
        expect(yield* events).toEqual([])
        // Room for the 500 bytes (though not for all 600): the upload goes on where it was.
        yield* Ref.set(free, 1550)
        yield* s.receive(resume)
        expect(yield* s.last).toMatchObject({ type: "meta_received", upload_id: uploadId, offset: 100 })
        yield* s.receive(binary(Buffer.alloc(500, 97)))
        expect(yield* s.last).toMatchObject({ type: "file_received" })
      }))

    it.effect("a resume refused for want of disk space is not counted as a failed upload: it is kept, and no event says it ended", () =>
      Effect.gen(function*() {
        const diskFailuresBefore = yield* failedUploads("disk")
        const { free, sessions } = yield* onDisk(10_000, 1000)
        const uploadId = yield* suspendedAt100(sessions)
        yield* Ref.set(free, 1400)
        const s = yield* openOn(sessions)
        yield* s.receive(meta("big.txt", 600, { upload_id: uploadId }))
        expect((yield* s.last)?.["code"]).toBe("insufficient_storage")
        expect(yield* events).toEqual([])
        expect(yield* failedUploads("disk")).toBe(diskFailuresBefore)
      }))
  })

  const fullDisk = (where: "append" | "commit") =>
    storeWith((store) =>
      Effect.map(Ref.make(true), (firstUpload) => ({
        ...store,
        // Only the first upload meets a full disk.
        begin: (uploadId: string) =>
          Effect.map(Effect.zip(store.begin(uploadId), Ref.getAndSet(firstUpload, false)), ([partial, full]) => {
            if (!full) return partial
            const enospc = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" })
            const failure = new FileStoreError({ reason: where === "append" ? "Write" : "Commit", cause: enospc })
            return where === "append"
              ? { ...partial, append: () => Effect.fail(failure) }
              : { ...partial, commit: () => Effect.zipRight(partial.discard, Effect.fail(failure)) }
          })
      }))
    )

  for (const where of ["append", "commit"] as const) {
    layerPerTest(backends({ store: fullDisk(where) }))((it) => {
      it.effect(`ENOSPC on ${where} tells the client the disk is full, discards the upload, and the session goes on`, () =>
        Effect.gen(function*() {
          const s = yield* openOn(yield* UploadSession.make(settings(CHECKED)))
          yield* sendFile(s, "a.txt", Buffer.from("hello"))
          expect(yield* s.last).toEqual({ type: "error", message: Uploads.DISK_FULL, code: "disk_full" })
          yield* nothingLeft
          yield* s.receive(meta("b.txt", 0))
          expect(yield* s.last).toMatchObject({ type: "file_received" })
        }))
    })
  }

  onMemory((it) => {
    it.effect("an unreadable free-space figure does not stop uploads", () =>
      Effect.gen(function*() {
        const unreadable = DiskSpace.of({ available: Effect.fail(new DiskSpaceError({ reason: "Stat", cause: "EIO" })) })
        const sessions = yield* UploadSession.make(settings({ contentCheck: true, minFreeBytes: 1 << 30 })).pipe(
          Effect.provideService(DiskSpace, unreadable)
        )
        const s = yield* openOn(sessions)
        yield* sendFile(s, "c.txt", Buffer.from("hi"))
        expect(yield* s.last).toMatchObject({ type: "file_received" })
      }))
  })
})
