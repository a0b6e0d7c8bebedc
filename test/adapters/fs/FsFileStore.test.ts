import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Exit, Fiber, Layer, Logger, LogLevel, Scope } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { FileStore } from "../../../src/application/FileStore.js"
import * as FsFileStore from "../../../src/adapters/fs/FsFileStore.js"
import * as MemoryRateLimiter from "../../../src/adapters/memory/MemoryRateLimiter.js"
import * as UploadSession from "../../../src/application/UploadSession.js"
import * as FileName from "../../../src/domain/FileName.js"
import { fileStoreContract, StoreInspector } from "../../contracts/FileStore.contract.js"

/** A temporary directory that lives as long as the test's scope. */
const tempDirectory = Effect.acquireRelease(
  Effect.promise(() => fs.mkdtemp(path.join(os.tmpdir(), "fr-fs-"))),
  (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
)

const list = (dir: string) => Effect.promise(() => fs.readdir(dir))

const harness = (subdirectory = "uploads") =>
  Layer.unwrapScoped(
    Effect.map(tempDirectory, (root) => {
      const dir = path.join(root, subdirectory)
      const inspector = Layer.succeed(StoreInspector, {
        visible: Effect.map(list(dir), (names) => names.filter((n) => !n.endsWith(FsFileStore.PARTIAL_SUFFIX)).sort()),
        read: (name) => Effect.promise(() => fs.readFile(path.join(dir, name)).catch(() => undefined)),
        partials: Effect.map(list(dir), (names) => names.filter((n) => n.endsWith(FsFileStore.PARTIAL_SUFFIX)).length)
      })
      return Layer.merge(Layer.orDie(FsFileStore.layer(dir)), inspector)
    })
  )

fileStoreContract("filesystem", harness())

describe("FsFileStore", () => {
  const file = (name: string) => Either.getOrThrow(FileName.validate(name, ["txt"]))

  it.scoped("creates the save directory, including missing parents", () =>
    Effect.gen(function*() {
      const root = yield* tempDirectory
      const dir = path.join(root, "a", "b", "uploads")
      yield* Effect.provide(FileStore, FsFileStore.layer(dir))
      expect((yield* Effect.promise(() => fs.stat(dir))).isDirectory()).toBe(true)
    }))

  it.scoped("streams into a hidden .part file in the directory, renamed on commit", () =>
    Effect.gen(function*() {
      const dir = yield* tempDirectory
      const store = yield* Effect.provide(FileStore, FsFileStore.layer(dir))
      const partial = yield* store.begin
      yield* partial.append(new Uint8Array(1000).fill(7))
      const [partName] = yield* list(dir)
      expect(partName).toMatch(/^\.[0-9a-f-]{36}\.part$/)
      expect((yield* Effect.promise(() => fs.stat(path.join(dir, partName!)))).size).toBe(1000)
      yield* partial.commit(file("data.txt"))
      expect(yield* list(dir)).toEqual(["data.txt"])
    }))

  it.scoped("refuses a name that would leave the directory and writes nothing outside it", () =>
    Effect.gen(function*() {
      const root = yield* tempDirectory
      const dir = path.join(root, "uploads")
      const store = yield* Effect.provide(FileStore, FsFileStore.layer(dir))
      const partial = yield* store.begin
      yield* partial.append(new TextEncoder().encode("escape"))
      const hostile: FileName.SafeFileName = { name: "../escape.txt", stem: "../escape", extension: "txt" }
      const error = yield* Effect.flip(partial.commit(hostile))
      expect(error.reason).toBe("Commit")
      expect(yield* list(root)).toEqual(["uploads"])
      expect(yield* list(dir)).toEqual([])
    }))

  it.scoped("a collision keeps long names within 255 bytes", () =>
    Effect.gen(function*() {
      const dir = yield* tempDirectory
      const store = yield* Effect.provide(FileStore, FsFileStore.layer(dir))
      const longName = file(`${"é".repeat(125)}.txt`) // 250 + 4 = 254 bytes
      const first = yield* store.begin
      const second = yield* store.begin
      yield* first.commit(longName)
      const stored = yield* second.commit(longName)
      expect(stored.endsWith("_1.txt")).toBe(true)
      expect(Buffer.byteLength(stored)).toBeLessThanOrEqual(255)
      expect((yield* list(dir)).length).toBe(2)
    }))

  it.scoped("fails with Open when the directory cannot be created", () =>
    Effect.gen(function*() {
      const root = yield* tempDirectory
      const blocker = path.join(root, "not-a-dir")
      yield* Effect.promise(() => fs.writeFile(blocker, "x"))
      const error = yield* Effect.flip(Effect.provide(FileStore, FsFileStore.layer(path.join(blocker, "uploads"))))
      expect(error.reason).toBe("Open")
    }))
})

describe("FsFileStore under an interrupted session", () => {
  it.scopedLive("a session interrupted at any moment of an upload leaves no partial file and no open handle", () =>
    Effect.gen(function*() {
      const dir = yield* tempDirectory
      const sessions = yield* UploadSession.UploadSession.pipe(
        Effect.provide(UploadSession.layer({
          upload: { maxFileBytes: 1 << 20, maxChunkBytes: 1 << 16, allowedExtensions: ["txt"] },
          rateLimit: { limit: 1_000_000, window: Duration.seconds(60) }
        })),
        Effect.provide(FsFileStore.layer(dir)),
        Effect.provide(MemoryRateLimiter.layerMemory)
      )
      const connection: UploadSession.Connection = { clientAddress: "test", send: () => Effect.void, close: () => Effect.void }
      const frames = [
        JSON.stringify({ type: "file_meta", file_name: "a.txt", file_size: 8 }),
        JSON.stringify({ type: "file_chunk", chunk: Buffer.from("abcd").toString("base64") }),
        JSON.stringify({ type: "file_meta", file_name: "b.txt", file_size: 8 })
      ]
      for (let attempt = 0; attempt < 60; attempt++) {
        const scope = yield* Scope.make()
        const session = yield* Scope.extend(sessions.open(connection), scope)
        const fiber = yield* Effect.fork(Effect.forEach(frames, (frame) => session.receive(UploadSession.textFrame(frame))))
        yield* Effect.sleep(Duration.micros(BigInt((attempt % 12) * 150)))
        yield* Fiber.interrupt(fiber)
        yield* Scope.close(scope, Exit.void)
      }
      expect(yield* list(dir)).toEqual([])
    }).pipe(Logger.withMinimumLogLevel(LogLevel.Warning)))
})
