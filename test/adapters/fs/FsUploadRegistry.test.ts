import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { UploadRegistry } from "../../../src/application/ports/UploadRegistry.js"
import * as FsUploadRegistry from "../../../src/adapters/fs/FsUploadRegistry.js"
import { freshUploadId, recordFor, uploadRegistryContract } from "../../contracts/UploadRegistry.contract.js"

/** A temporary directory that lives as long as the test's scope. */
const tempDirectory = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "fr-registry-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

const list = (dir: string) => Effect.promise(() => fs.readdir(dir))
const sidecarOf = (dir: string, id: string) => path.join(dir, `.${id}${FsUploadRegistry.SIDECAR_SUFFIX}`)

/** A registry in a fresh temporary directory, for each test. */
const harness = Layer.unwrapScoped(Effect.map(tempDirectory, (dir) => Layer.orDie(FsUploadRegistry.layer(path.join(dir, "uploads")))))

uploadRegistryContract("filesystem", harness)

describe("FsUploadRegistry", () => {
  it.scoped("creates the directory, and keeps each record in a hidden .<upload id>.upload.json sidecar", () =>
    Effect.gen(function*() {
      const dir = path.join(yield* tempDirectory, "a", "uploads")
      const registry = yield* FsUploadRegistry.make(dir)
      const record = recordFor(freshUploadId(), { expectedSha256: "ab".repeat(32) })
      yield* registry.create(record)
      expect(yield* list(dir)).toEqual([`.${record.uploadId}.upload.json`])
      const stored = JSON.parse(yield* Effect.promise(() => fs.readFile(sidecarOf(dir, record.uploadId), "utf8"))) as unknown
      expect(stored).toEqual(record)
      yield* registry.remove(record.uploadId)
      expect(yield* list(dir)).toEqual([])
    }))

  it.scoped("records survive a restart: a new registry on the same directory finds them", () =>
    Effect.gen(function*() {
      const dir = yield* tempDirectory
      const withSha = recordFor(freshUploadId(), { expectedSha256: "cd".repeat(32) })
      const withoutSha = recordFor(freshUploadId(), { fileName: "b.txt", size: 7 })
      const before = yield* FsUploadRegistry.make(dir)
      yield* before.create(withSha)
      yield* before.create(withoutSha)
      const release = Option.getOrThrow(yield* before.claim(withSha.uploadId))

      const after = yield* FsUploadRegistry.make(dir)
      expect(yield* after.get(withSha.uploadId)).toEqual(Option.some(withSha))
      expect(yield* after.get(withoutSha.uploadId)).toEqual(Option.some(withoutSha))
      // Claims are held in the process: the restarted registry starts with none.
      const claimed = yield* after.claim(withSha.uploadId)
      expect(Option.isSome(claimed)).toBe(true)
      yield* after.remove(withoutSha.uploadId)
      expect(yield* before.get(withoutSha.uploadId)).toEqual(Option.none())
      yield* release
      if (Option.isSome(claimed)) yield* claimed.value
    }))

  it.scoped.each([
    ["text that is not JSON", "{not json"],
    ["truncated JSON", JSON.stringify(recordFor("a".repeat(24))).slice(0, 30)],
    ["nothing", ""],
    ["JSON of another shape", JSON.stringify({ uploadId: "a".repeat(24), fileName: "a.txt" })],
    ["a size that is not a number", JSON.stringify({ ...recordFor("a".repeat(24)), size: "12" })],
    ["a JSON array", "[]"],
    ["blank lines only", "\n\n"]
  ])("a sidecar holding %s fails with UploadRegistryError, reason Corrupt", ([, content]) =>
    Effect.gen(function*() {
      const dir = yield* tempDirectory
      const registry = yield* FsUploadRegistry.make(dir)
      const id = freshUploadId()
      yield* Effect.promise(() => fs.writeFile(sidecarOf(dir, id), content!))
      const error = yield* Effect.flip(registry.get(id))
      expect(error._tag).toBe("UploadRegistryError")
      expect(error.reason).toBe("Corrupt")
      expect(error.message).toMatch(/^Upload registry holds an unreadable record: /)
      // A corrupt record can still be removed, and then it is simply unknown.
      yield* registry.remove(id)
      expect(yield* registry.get(id)).toEqual(Option.none())
    }))

  it.scoped("a directory in a sidecar's place holds no record: get fails with reason Corrupt", () =>
    Effect.gen(function*() {
      const dir = yield* tempDirectory
      const registry = yield* FsUploadRegistry.make(dir)
      const id = freshUploadId()
      yield* Effect.promise(() => fs.mkdir(sidecarOf(dir, id)))
      const error = yield* Effect.flip(registry.get(id))
      expect(error.reason).toBe("Corrupt")
    }))

  it.scoped("create replaces the sidecar atomically and leaves no temporary file", () =>
    Effect.gen(function*() {
      const dir = yield* tempDirectory
      const registry = yield* FsUploadRegistry.make(dir)
      const id = freshUploadId()
      yield* registry.create(recordFor(id, { size: 1 }))
      yield* registry.create(recordFor(id, { size: 2 }))
      expect(yield* list(dir)).toEqual([`.${id}.upload.json`])
      expect(Option.map(yield* registry.get(id), (record) => record.size)).toEqual(Option.some(2))
    }))

  it.scoped("a symlink at a sidecar's name is not read through: get fails with reason Corrupt", () =>
    Effect.gen(function*() {
      const root = yield* tempDirectory
      const registry = yield* FsUploadRegistry.make(path.join(root, "uploads"))
      const record = recordFor(freshUploadId())
      // Outside the directory, a file that would pass for the record.
      const outside = path.join(root, "outside.json")
      yield* Effect.promise(() => fs.writeFile(outside, JSON.stringify(record)))
      yield* Effect.promise(() => fs.symlink(outside, sidecarOf(path.join(root, "uploads"), record.uploadId)))
      const error = yield* Effect.flip(registry.get(record.uploadId))
      expect(error.reason).toBe("Corrupt")
      expect(yield* registry.list).toEqual([])
    }))

  it.scoped("create does not write through a symlink planted at the temporary file's name", () =>
    Effect.gen(function*() {
      const root = yield* tempDirectory
      const dir = path.join(root, "uploads")
      const registry = yield* FsUploadRegistry.make(dir)
      const record = recordFor(freshUploadId())
      const outside = path.join(root, "outside.txt")
      yield* Effect.promise(() => fs.writeFile(outside, "outside!"))
      yield* Effect.promise(() => fs.symlink(outside, `${sidecarOf(dir, record.uploadId)}.tmp`))
      yield* registry.create(record)
      expect(yield* Effect.promise(() => fs.readFile(outside, "utf8"))).toBe("outside!")
      expect((yield* Effect.promise(() => fs.lstat(sidecarOf(dir, record.uploadId)))).isFile()).toBe(true)
      expect(yield* registry.get(record.uploadId)).toEqual(Option.some(record))
      expect(yield* list(dir)).toEqual([`.${record.uploadId}.upload.json`])
    }))

  /** A registry in an `uploads` folder of a fresh temporary directory (`root`), and a record for it. */
  const fresh = Effect.gen(function*() {
    const root = yield* tempDirectory
    const dir = path.join(root, "uploads")
    return { root, dir, registry: yield* FsUploadRegistry.make(dir), record: recordFor(freshUploadId()) }
  })

  const completedOf = (record: ReturnType<typeof recordFor>) => ({
    ...record,
    completed: { storedName: "a.pdf", extension: "pdf", sha256: "ab".repeat(32), completedAt: 1_790_000_100_000 }
  })

  it.scoped("complete appends the completed record to the sidecar: the same file, no temporary one, and get reads the completion", () =>
    Effect.gen(function*() {
      const { dir, record, registry } = yield* fresh
      yield* registry.create(record)
      const before = yield* Effect.promise(() => fs.lstat(sidecarOf(dir, record.uploadId)))
      yield* registry.complete(completedOf(record))
      const after = yield* Effect.promise(() => fs.lstat(sidecarOf(dir, record.uploadId)))
      expect(after.ino).toBe(before.ino)
      expect(yield* list(dir)).toEqual([`.${record.uploadId}.upload.json`])
      expect(yield* Effect.promise(() => fs.readFile(sidecarOf(dir, record.uploadId), "utf8")))
        .toBe(`${JSON.stringify(record)}\n\n${JSON.stringify(completedOf(record))}\n`)
      expect(yield* registry.get(record.uploadId)).toEqual(Option.some(completedOf(record)))
    }))

  it.scoped("a completion cut short (a power cut during its write) reads as the record before it", () =>
    Effect.gen(function*() {
      const { dir, record, registry } = yield* fresh
      const torn = JSON.stringify(completedOf(record)).slice(0, 60)
      yield* Effect.promise(() => fs.writeFile(sidecarOf(dir, record.uploadId), `${JSON.stringify(record)}\n\n${torn}`))
      expect(yield* registry.get(record.uploadId)).toEqual(Option.some(record))
    }))

  it.scoped("a completion after one cut short starts on a line of its own, and is read", () =>
    Effect.gen(function*() {
      const { dir, record, registry } = yield* fresh
      const torn = JSON.stringify(completedOf(record)).slice(0, 60)
      yield* Effect.promise(() => fs.writeFile(sidecarOf(dir, record.uploadId), `${JSON.stringify(record)}\n\n${torn}`, { mode: 0o600 }))
      yield* registry.complete(completedOf(record))
      expect(yield* registry.get(record.uploadId)).toEqual(Option.some(completedOf(record)))
    }))

  it.scoped("completed twice, the last completion is the record; a line of another upload is never taken", () =>
    Effect.gen(function*() {
      const { dir, record, registry } = yield* fresh
      yield* registry.create(record)
      yield* registry.complete(completedOf(record))
      const again = { ...completedOf(record), completed: { ...completedOf(record).completed, completedAt: 1_790_000_200_000 } }
      yield* registry.complete(again)
      expect(yield* registry.get(record.uploadId)).toEqual(Option.some(again))
      const other = recordFor(freshUploadId())
      yield* Effect.promise(() => fs.appendFile(sidecarOf(dir, record.uploadId), `\n${JSON.stringify(completedOf(other))}\n`))
      expect(yield* registry.get(record.uploadId)).toEqual(Option.some(again))
    }))

  it.scoped("complete with the sidecar gone writes it whole (no temporary file left), never creating it in place", () =>
    Effect.gen(function*() {
      const { dir, record, registry } = yield* fresh
      yield* registry.complete(completedOf(record))
      expect(yield* list(dir)).toEqual([`.${record.uploadId}.upload.json`])
      expect(yield* registry.get(record.uploadId)).toEqual(Option.some(completedOf(record)))
    }))

  it.scoped("complete does not append to a FIFO or to a hard link of a file elsewhere planted at the sidecar's name", () =>
    Effect.gen(function*() {
      const { dir, registry, root } = yield* fresh
      const fifo = recordFor(freshUploadId())
      execFileSync("mkfifo", [sidecarOf(dir, fifo.uploadId)])
      yield* registry.complete(completedOf(fifo))
      expect((yield* Effect.promise(() => fs.lstat(sidecarOf(dir, fifo.uploadId)))).isFile()).toBe(true)
      expect(yield* registry.get(fifo.uploadId)).toEqual(Option.some(completedOf(fifo)))

      const linked = recordFor(freshUploadId())
      const outside = path.join(root, "outside.json")
      yield* Effect.promise(() => fs.writeFile(outside, JSON.stringify(linked)))
      yield* Effect.promise(() => fs.link(outside, sidecarOf(dir, linked.uploadId)))
      yield* registry.complete(completedOf(linked))
      expect(yield* Effect.promise(() => fs.readFile(outside, "utf8"))).toBe(JSON.stringify(linked))
      expect((yield* Effect.promise(() => fs.lstat(outside))).nlink).toBe(1)
      expect(yield* registry.get(linked.uploadId)).toEqual(Option.some(completedOf(linked)))
    }))

  it.scoped("a sidecar an earlier version wrote (one record, no newline at its end) is completed and read back", () =>
    Effect.gen(function*() {
      const { dir, record, registry } = yield* fresh
      yield* Effect.promise(() => fs.writeFile(sidecarOf(dir, record.uploadId), JSON.stringify(record), { mode: 0o600 }))
      expect(yield* registry.get(record.uploadId)).toEqual(Option.some(record))
      yield* registry.complete(completedOf(record))
      expect(yield* registry.get(record.uploadId)).toEqual(Option.some(completedOf(record)))
    }))

  it.scoped("complete does not append through a symlink planted at the sidecar's name: it replaces the link with the record", () =>
    Effect.gen(function*() {
      const { dir, record, registry, root } = yield* fresh
      const outside = path.join(root, "outside.txt")
      yield* Effect.promise(() => fs.writeFile(outside, "outside!"))
      yield* Effect.promise(() => fs.symlink(outside, sidecarOf(dir, record.uploadId)))
      yield* registry.complete(completedOf(record))
      expect(yield* Effect.promise(() => fs.readFile(outside, "utf8"))).toBe("outside!")
      expect((yield* Effect.promise(() => fs.lstat(sidecarOf(dir, record.uploadId)))).isFile()).toBe(true)
      expect(yield* registry.get(record.uploadId)).toEqual(Option.some(completedOf(record)))
    }))

  it.scoped("fails with reason Unavailable when the directory cannot be created", () =>
    Effect.gen(function*() {
      const root = yield* tempDirectory
      const blocker = path.join(root, "not-a-dir")
      yield* Effect.promise(() => fs.writeFile(blocker, "x"))
      const error = yield* Effect.flip(Effect.provide(UploadRegistry, FsUploadRegistry.layer(path.join(blocker, "uploads"))))
      expect(error.reason).toBe("Unavailable")
    }))
})

describe("FsUploadRegistry.list", () => {
  it.scopedLive("lists the records in the directory and clears stale temporary files a crash left behind, not fresh ones", () =>
    Effect.gen(function*() {
      const dir = yield* Effect.acquireRelease(
        Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "fr-list-"))),
        (d) => Effect.promise(() => fs.rm(d, { recursive: true, force: true }))
      )
      const registry = yield* FsUploadRegistry.make(dir)
      const record = { uploadId: "L".repeat(24), fileName: "a.txt", size: 1, expectedSha256: undefined, createdAt: 1 }
      yield* registry.create(record)
      const stale = path.join(dir, `.${"T".repeat(24)}${FsUploadRegistry.SIDECAR_SUFFIX}.tmp`)
      yield* Effect.promise(() => fs.writeFile(stale, "{"))
      const twoMinutesAgo = new Date(Date.now() - 120_000)
      yield* Effect.promise(() => fs.utimes(stale, twoMinutesAgo, twoMinutesAgo))
      // A `create` in progress on another fiber: its temporary file is about to be renamed.
      const fresh = `.${"F".repeat(24)}${FsUploadRegistry.SIDECAR_SUFFIX}.tmp`
      yield* Effect.promise(() => fs.writeFile(path.join(dir, fresh), "{"))
      expect(yield* registry.list).toEqual([record])
      expect((yield* Effect.promise(() => fs.readdir(dir))).sort()).toEqual([fresh, `.${"L".repeat(24)}${FsUploadRegistry.SIDECAR_SUFFIX}`].sort())
    }))
})
