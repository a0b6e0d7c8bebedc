import { afterAll, describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Either, Layer, Option } from "effect"
import { createHash, randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { FileStore } from "../../../src/application/ports/FileStore.js"
import * as MemoryUploadRegistry from "../../../src/adapters/memory/MemoryUploadRegistry.js"
import * as S3FileStore from "../../../src/adapters/s3/S3FileStore.js"
import * as UploadExpiry from "../../../src/application/uploads/UploadExpiry.js"
import * as FileName from "../../../src/domain/FileName.js"
import { fileStoreContract, freshUploadId, StoreInspector } from "../../contracts/FileStore.contract.js"
import { startS3rver } from "../../support/s3rver.js"

const s3 = await startS3rver()
afterAll(() => s3.stop())

const freshPrefix = () => `t-${randomBytes(6).toString("hex")}/`

const readAll = async (body: AsyncIterable<Buffer> | undefined) => {
  if (body === undefined) return undefined
  const chunks: Array<Buffer> = []
  for await (const chunk of body) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/** A store on a prefix of its own, and an inspector that looks at the bucket itself. */
const harness = (partSize?: number) =>
  Layer.unwrapEffect(Effect.sync(() => {
    const store = Layer.orDie(S3FileStore.layer(s3.settings(freshPrefix(), partSize)))
    const inspector = Layer.effect(
      StoreInspector,
      Effect.gen(function*() {
        const bucket = yield* S3FileStore.S3Storage
        const files = yield* FileStore
        const list = (under: string) => Effect.promise(() => bucket.list(under))
        return StoreInspector.of({
          visible: Effect.map(list(""), (objects) => objects.map((o) => o.key).filter((key) => !key.startsWith(S3FileStore.PARTIAL_FOLDER)).sort()),
          read: (name) => Effect.promise(async () => new Uint8Array((await readAll(await bucket.read(name) as AsyncIterable<Buffer> | undefined)) ?? [])).pipe(
            Effect.flatMap((bytes) => Effect.map(Effect.promise(() => bucket.exists(name)), (exists) => (exists ? bytes : undefined)))
          ),
          // Partials kept in the bucket, and those still being written in this process.
          partials: Effect.map(
            Effect.all([list(S3FileStore.PARTIAL_FOLDER), Effect.orDie(files.partials)]),
            ([objects, listed]) =>
              new Set([
                ...objects.map((o) => o.key.slice(S3FileStore.PARTIAL_FOLDER.length).replace(/\.json$/, "")),
                ...listed.map((p) => p.uploadId)
              ]).size
          )
        })
      })
    )
    return Layer.provideMerge(inspector, store)
  }))

// Files below one part: one PutObject each.
fileStoreContract("s3 (s3rver, single PutObject)", harness())
// Parts of 4 bytes (s3rver does not enforce S3's 5 MiB minimum): every upload is a multipart upload.
fileStoreContract("s3 (s3rver, multipart)", harness(4))

describe("S3FileStore", () => {
  const file = (name: string) => Either.getOrThrow(FileName.validate(name, ["bin", "txt"]))
  const storeOn = (prefix: string, partSize: number) =>
    Effect.provide(Effect.all([FileStore, S3FileStore.S3Storage]), Layer.orDie(S3FileStore.layer(s3.settings(prefix, partSize))))

  it.live("streams a 12 MiB file as 5 MiB parts and stores exactly its bytes", () =>
    Effect.gen(function*() {
      const [store, bucket] = yield* storeOn(freshPrefix(), 5 * 1024 * 1024)
      const content = randomBytes(12 * 1024 * 1024)
      const partial = yield* store.begin(freshUploadId())
      for (let offset = 0; offset < content.length; offset += 256 * 1024) {
        yield* partial.append(content.subarray(offset, offset + 256 * 1024))
      }
      expect(yield* partial.commit(file("big.bin"), content.length)).toBe("big.bin")
      const stored = yield* Effect.promise(async () => readAll(await bucket.read("big.bin") as AsyncIterable<Buffer>))
      expect(createHash("sha256").update(stored!).digest("hex")).toBe(createHash("sha256").update(content).digest("hex"))
      expect((yield* Effect.promise(() => bucket.list(""))).map((o) => o.key)).toEqual(["big.bin"])
    }), 60_000)

  it.live("a suspended upload is resumed by another store on the same bucket (another instance), replaying every held byte", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const [first] = yield* storeOn(prefix, 5 * 1024 * 1024)
      const [second, bucket] = yield* storeOn(prefix, 5 * 1024 * 1024)
      const content = randomBytes(7 * 1024 * 1024 + 3)
      const id = freshUploadId()
      const partial = yield* first.begin(id)
      yield* partial.append(content.subarray(0, 6 * 1024 * 1024))
      yield* partial.suspend
      const resumed = Option.getOrThrow(yield* second.resume(id))
      expect(resumed.held).toBe(6 * 1024 * 1024)
      const hash = createHash("sha256")
      yield* resumed.replay((bytes) => Effect.sync(() => void hash.update(bytes)))
      yield* resumed.partial.append(content.subarray(6 * 1024 * 1024))
      hash.update(content.subarray(6 * 1024 * 1024))
      expect(hash.digest("hex")).toBe(createHash("sha256").update(content).digest("hex"))
      expect(yield* resumed.partial.commit(file("moved.bin"), content.length)).toBe("moved.bin")
      const stored = yield* Effect.promise(async () => readAll(await bucket.read("moved.bin") as AsyncIterable<Buffer>))
      expect(stored!.equals(content)).toBe(true)
      expect((yield* Effect.promise(() => bucket.list(""))).map((o) => o.key)).toEqual(["moved.bin"])
    }), 60_000)

  it.live.each([["one PutObject", 64], ["a multipart upload and a copy", 5 * 1024 * 1024]] as const)(
    "a commit after a crash between publishing (%s) and recording publishes nothing twice: it finds its own object",
    ([, size]) =>
      Effect.gen(function*() {
        const prefix = freshPrefix()
        const [crashed, bucket] = yield* storeOn(prefix, 5 * 1024 * 1024)
        const content = randomBytes(size)
        const id = freshUploadId()
        const first = yield* crashed.begin(id)
        yield* first.append(content.subarray(0, 10))
        yield* first.suspend
        const resumed = Option.getOrThrow(yield* crashed.resume(id))
        yield* resumed.partial.append(content.subarray(10))
        // The process dies once the file is published, before the completion is recorded and the staged copy goes.
        const died = yield* Effect.exit(resumed.partial.commit(file("once.bin"), size, () => Effect.die("killed")))
        expect(died._tag).toBe("Failure")
        // Another store, as after a restart: the upload is still there, whole, and committing it finds the same name.
        const [restarted] = yield* storeOn(prefix, 5 * 1024 * 1024)
        const again = Option.getOrThrow(yield* restarted.resume(id))
        // A multipart upload was completed as the staged object before its copy: whole. A small file was put
        // straight under its name: the staged object is the suspended one, and the client sends the rest again.
        expect(again.held).toBe(size > 64 ? size : 10)
        yield* again.replay(() => Effect.void)
        yield* again.partial.append(content.subarray(again.held))
        expect(yield* again.partial.commit(file("once.bin"), size, () => Effect.succeed(true))).toBe("once.bin")
        expect((yield* Effect.promise(() => bucket.list(""))).map((o) => o.key)).toEqual(["once.bin"])
      }), 60_000)

  it.live("a commit refuses a file of another size than expected and leaves nothing behind", () =>
    Effect.gen(function*() {
      const [store, bucket] = yield* storeOn(freshPrefix(), 4)
      const partial = yield* store.begin(freshUploadId())
      yield* partial.append(new TextEncoder().encode("twelve bytes"))
      const error = yield* Effect.flip(partial.commit(file("short.txt"), 11))
      expect(error.reason).toBe("Commit")
      expect(yield* Effect.promise(() => bucket.list(""))).toEqual([])
    }))

  it.live("publishes names with letters outside ASCII", () =>
    Effect.gen(function*() {
      const [store, bucket] = yield* storeOn(freshPrefix(), 4)
      for (const content of ["first", "second"]) {
        const partial = yield* store.begin(freshUploadId())
        yield* partial.append(new TextEncoder().encode(content))
        yield* partial.commit(file("résumé.txt"))
      }
      expect((yield* Effect.promise(() => bucket.list(""))).map((o) => o.key).sort()).toEqual(["résumé.txt", "résumé_1.txt"])
    }))

  it.live("refuses a name that would leave the prefix", () =>
    Effect.gen(function*() {
      const [store, bucket] = yield* storeOn(freshPrefix(), 4)
      const partial = yield* store.begin(freshUploadId())
      const hostile: FileName.SafeFileName = { name: "../escape.txt", stem: "../escape", extension: "txt" }
      expect((yield* Effect.flip(partial.commit(hostile))).reason).toBe("Commit")
      expect(yield* Effect.promise(() => bucket.list(""))).toEqual([])
    }))

  it.live("the expiry sweep removes a suspended upload from the bucket once it has expired, and keeps a fresh one", () =>
    Effect.gen(function*() {
      const [store, bucket] = yield* storeOn(freshPrefix(), 4)
      const [old, fresh] = [freshUploadId(), freshUploadId()]
      for (const id of [old, fresh]) {
        const partial = yield* store.begin(id)
        yield* partial.append(new TextEncoder().encode("twelve bytes"))
        yield* partial.suspend
        if (id === old) yield* Effect.sleep(Duration.millis(3_500))
      }
      const removed = yield* UploadExpiry.sweep(Duration.seconds(2)).pipe(
        Effect.provide(Layer.merge(Layer.succeed(FileStore, store), MemoryUploadRegistry.layerMemory))
      )
      expect(removed).toBe(1)
      expect((yield* Effect.promise(() => bucket.list(""))).map((o) => o.key).sort()).toEqual(
        [`${S3FileStore.PARTIAL_FOLDER}${fresh}`, `${S3FileStore.PARTIAL_FOLDER}${fresh}.json`].sort()
      )
    }), 30_000)

  it.live("a store does not start when the bucket does not exist", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.provide(FileStore, S3FileStore.layer({ ...s3.settings(freshPrefix()), bucket: "no-such-bucket" })))
      expect(error.reason).toBe("Open")
      expect(String(error.cause)).toContain("no-such-bucket")
    }))

  it.live("keeps its objects on the server's disk, not in the test process", () =>
    Effect.gen(function*() {
      // s3rver writes objects under its directory: the data really went over HTTP.
      const [store] = yield* storeOn(freshPrefix(), 4)
      const partial = yield* store.begin(freshUploadId())
      yield* partial.append(new TextEncoder().encode("on disk"))
      yield* partial.commit(file("disk.txt"))
      const found = yield* Effect.promise(() => fs.readdir(path.join(s3.directory, s3.bucket), { recursive: true }))
      expect(found.some((entry) => entry.endsWith("disk.txt._S3rver_object"))).toBe(true)
    }))
})
