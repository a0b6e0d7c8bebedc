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
import { logReference } from "../../../src/application/uploads/Uploads.js"
import * as S3LargeCopy from "../../../src/adapters/s3/S3LargeCopy.js"
import { type ProxyOptions, startCopyPartProxy } from "../../support/copyPartProxy.js"
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

/** A proxy in front of s3rver (see copyPartProxy), closed with the scope. */
const proxied = (options?: ProxyOptions) =>
  Effect.acquireRelease(Effect.promise(() => startCopyPartProxy(s3.endpoint, options)), (proxy) => Effect.promise(() => proxy.close()))

/** The keys under a bucket's prefix. */
const keysOf = (bucket: S3FileStore.S3Storage["Type"]) => Effect.map(Effect.promise(() => bucket.list("")), (objects) => objects.map((o) => o.key))

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
      expect(yield* keysOf(bucket)).toEqual(["big.bin"])
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
      expect(yield* keysOf(bucket)).toEqual(["moved.bin"])
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
        expect(yield* keysOf(bucket)).toEqual(["once.bin"])
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
      expect((yield* keysOf(bucket)).sort()).toEqual(["résumé.txt", "résumé_1.txt"])
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
      expect((yield* keysOf(bucket)).sort()).toEqual(
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

describe("S3FileStore: files larger than one CopyObject may copy", () => {
  const MiB = 1024 * 1024
  const file = (name: string) => Either.getOrThrow(FileName.validate(name, ["bin"]))
  // S3 copies at most 5 GiB at once; these stores say 6 MiB, so a 14 MiB file takes the path a 6 GiB one takes.
  const storeOn = (prefix: string, endpoint = s3.endpoint) =>
    Effect.provide(
      Effect.all([FileStore, S3FileStore.S3Storage]),
      Layer.orDie(S3FileStore.layer({ ...s3.settings(prefix, 5 * MiB), endpoint, singleCopyLimit: 6 * MiB, partConcurrency: 2 }))
    )
  const upload = (store: FileStore["Type"], content: Buffer, name: string, id = freshUploadId()) =>
    Effect.gen(function*() {
      const partial = yield* store.begin(id)
      for (let offset = 0; offset < content.length; offset += MiB) yield* partial.append(content.subarray(offset, offset + MiB))
      return yield* partial.commit(file(name), content.length)
    })
  const contentOf = (bucket: S3FileStore.S3Storage["Type"], key: string) =>
    Effect.promise(async () => readAll(await bucket.read(key) as AsyncIterable<Buffer> | undefined))
  const metadataOf = (bucket: S3FileStore.S3Storage["Type"], key: string) => Effect.promise(() => bucket.publisher(key))

  it("plans copies of at most the limit, 1 GiB at most where the limit allows, in S3's 10,000 parts", () => {
    const GiB = 1024 * MiB
    const MAX = 5 * GiB
    expect(S3LargeCopy.copyRanges(6 * GiB + 1, MAX).map((range) => range.last - range.first + 1)).toEqual([...Array(6).fill(GiB), 1])
    const ranges = S3LargeCopy.copyRanges(5 * 1024 * GiB, MAX)
    expect(ranges.length).toBeLessThanOrEqual(10_000)
    expect(ranges.at(-1)!.last).toBe(5 * 1024 * GiB - 1)
    expect(ranges.every((range, i) => range.partNumber === i + 1 && (i === 0 || range.first === ranges[i - 1]!.last + 1))).toBe(true)
    expect(S3LargeCopy.copyRanges(14 * MiB, 6 * MiB).map((range) => [range.first, range.last])).toEqual(
      [[0, 6 * MiB - 1], [6 * MiB, 12 * MiB - 1], [12 * MiB, 14 * MiB - 1]]
    )
    expect(() => S3LargeCopy.copyRanges(10_001 * 5 * GiB, MAX)).toThrow(/does not fit/)
  })

  it.live("with UploadPartCopy: copied server-side in ranges, exactly its bytes, its publisher recorded, nothing else left", () =>
    Effect.gen(function*() {
      const proxy = yield* proxied()
      const [store, bucket] = yield* storeOn(freshPrefix(), proxy.endpoint)
      const content = randomBytes(14 * MiB + 3)
      const id = freshUploadId()
      expect(yield* upload(store, content, "large.bin", id)).toBe("large.bin")
      expect(proxy.copies().map((copy) => copy.range).sort()).toEqual(
        [`bytes=0-${6 * MiB - 1}`, `bytes=${6 * MiB}-${12 * MiB - 1}`, `bytes=${12 * MiB}-${14 * MiB + 2}`].sort()
      )
      expect(proxy.requests().filter((call) => call.endsWith("+copy") && !call.includes("uploadId"))).toEqual([])
      expect((yield* contentOf(bucket, "large.bin"))!.equals(content)).toBe(true)
      expect(yield* metadataOf(bucket, "large.bin")).toBe(logReference(id))
      expect(yield* keysOf(bucket)).toEqual(["large.bin"])
    }).pipe(Effect.scoped), 60_000)

  it.live("without UploadPartCopy (s3rver): the staged bytes are streamed into the parts instead, exactly its bytes", () =>
    Effect.gen(function*() {
      const proxy = yield* proxied({ copyParts: false })
      const prefix = freshPrefix()
      const [store, bucket] = yield* storeOn(prefix, proxy.endpoint)
      const content = randomBytes(14 * MiB + 3)
      const id = freshUploadId()
      expect(yield* upload(store, content, "large.bin", id)).toBe("large.bin")
      const calls = proxy.requests().filter((call) => call.includes(`${prefix}large.bin`) || call.includes(`${prefix}.partial/${id}`))
      // No CopyObject; the refused UploadPartCopy, then the staged object read back into three parts under the new name.
      expect(calls.filter((call) => call.endsWith("+copy"))).toEqual(expect.arrayContaining([`PUT ${prefix}large.bin?partNumber&uploadId +copy`]))
      expect(calls.filter((call) => call.endsWith("+copy") && !call.includes("uploadId"))).toEqual([])
      expect(calls).toContain(`GET ${prefix}.partial/${id}`)
      expect(calls.filter((call) => call === `PUT ${prefix}large.bin?partNumber&uploadId`)).toHaveLength(3)
      expect((yield* contentOf(bucket, "large.bin"))!.equals(content)).toBe(true)
      expect(yield* metadataOf(bucket, "large.bin")).toBe(logReference(id))
      expect(yield* keysOf(bucket)).toEqual(["large.bin"])
    }).pipe(Effect.scoped), 60_000)

  it.live("never replaces an object: a taken name moves on to the next, both files intact", () =>
    Effect.gen(function*() {
      const proxy = yield* proxied()
      const [store, bucket] = yield* storeOn(freshPrefix(), proxy.endpoint)
      const first = randomBytes(7 * MiB)
      const second = randomBytes(13 * MiB)
      expect(yield* upload(store, first, "same.bin")).toBe("same.bin")
      expect(yield* upload(store, second, "same.bin")).toBe("same_1.bin")
      expect((yield* contentOf(bucket, "same.bin"))!.equals(first)).toBe(true)
      expect((yield* contentOf(bucket, "same_1.bin"))!.equals(second)).toBe(true)
      expect((yield* keysOf(bucket)).sort()).toEqual(["same.bin", "same_1.bin"])
    }).pipe(Effect.scoped), 60_000)

  it.live("a name taken between the check and the completion (If-None-Match: * answered 412): the copy is dropped, the next name is used, the rival's object intact", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const rival = Buffer.from("the rival's bytes")
      let planted = false
      const proxy = yield* proxied({
        beforeComplete: async (key) => {
          if (planted || key !== `${prefix}race.bin`) return
          planted = true
          await bucket.put("race.bin", rival)
        }
      })
      const [store, bucket] = yield* storeOn(prefix, proxy.endpoint)
      const content = randomBytes(13 * MiB)
      expect(yield* upload(store, content, "race.bin")).toBe("race_1.bin")
      expect((yield* contentOf(bucket, "race.bin"))!.equals(rival)).toBe(true)
      expect((yield* contentOf(bucket, "race_1.bin"))!.equals(content)).toBe(true)
      // The multipart upload that lost was aborted (s3rver may refuse the abort; the call was made).
      expect(proxy.requests()).toContain(`DELETE ${prefix}race.bin?uploadId`)
      expect((yield* keysOf(bucket)).sort()).toEqual(["race.bin", "race_1.bin"])
    }).pipe(Effect.scoped), 60_000)

  it.live("a copy S3 refuses keeps the staged object: the upload is suspended, and a resume (another instance) publishes it once S3 copies again", () =>
    Effect.gen(function*() {
      let refusing = true
      const proxy = yield* proxied({ refuseCopies: () => refusing })
      const prefix = freshPrefix()
      const [first, bucket] = yield* storeOn(prefix, proxy.endpoint)
      const content = randomBytes(14 * MiB + 3)
      const id = freshUploadId()
      const error = yield* Effect.flip(upload(first, content, "kept.bin", id))
      // A write failure (storage_unavailable for the client), not a refused commit: nothing was lost.
      expect(error.reason).toBe("Write")
      expect(yield* Effect.promise(() => bucket.size(`${S3FileStore.PARTIAL_FOLDER}${id}`))).toBe(content.length)
      expect((yield* keysOf(bucket)).filter((key) => !key.startsWith(S3FileStore.PARTIAL_FOLDER))).toEqual([])
      refusing = false
      const before = proxy.requests().length
      const [second] = yield* storeOn(prefix, proxy.endpoint)
      const again = Option.getOrThrow(yield* second.resume(id, content.length))
      expect(again.held).toBe(content.length)
      const replayed = createHash("sha256")
      yield* again.replay((bytes) => Effect.sync(() => replayed.update(bytes)))
      expect(replayed.digest("hex")).toBe(createHash("sha256").update(content).digest("hex"))
      expect(yield* again.partial.commit(file("kept.bin"), content.length)).toBe("kept.bin")
      // The staged object was the whole file: read back once for the digest and copied as it is; no byte
      // went up again and nothing was completed again (nothing to fail on the way).
      const staged = `${prefix}${S3FileStore.PARTIAL_FOLDER}${id}`
      expect(proxy.requests().slice(before).filter((call) => call.startsWith(`PUT ${staged}?`) || call.startsWith(`POST ${staged}?`))).toEqual([])
      expect((yield* contentOf(bucket, "kept.bin"))!.equals(content)).toBe(true)
      expect(yield* keysOf(bucket)).toEqual(["kept.bin"])
    }).pipe(Effect.scoped), 60_000)

  it.live("a resumed upload whose completion into .partial/ fails is suspended, never discarded: its bytes are all there at the next resume", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      let failing = false
      const proxy = yield* proxied({
        beforeComplete: async (key) => {
          if (failing && key === `${prefix}${S3FileStore.PARTIAL_FOLDER}${id}`) throw new Error("S3 went away")
        }
      })
      const id = freshUploadId()
      const content = randomBytes(10 * MiB + 5)
      const held = 7 * MiB
      const [first] = yield* storeOn(prefix, proxy.endpoint)
      const partial = yield* first.begin(id)
      yield* partial.append(content.subarray(0, held))
      yield* partial.suspend
      const [second, bucket] = yield* storeOn(prefix, proxy.endpoint)
      const resumed = Option.getOrThrow(yield* second.resume(id))
      expect(resumed.held).toBe(held)
      yield* resumed.replay(() => Effect.void)
      yield* resumed.partial.append(content.subarray(held))
      failing = true
      const error = yield* Effect.flip(resumed.partial.commit(file("late.bin"), content.length))
      expect(error.reason).toBe("Write")
      // What the bucket held before is still there; nothing was published.
      expect(yield* Effect.promise(() => bucket.size(`${S3FileStore.PARTIAL_FOLDER}${id}`))).toBe(held)
      expect((yield* keysOf(bucket)).filter((key) => !key.startsWith(S3FileStore.PARTIAL_FOLDER))).toEqual([])
      failing = false
      // This instance kept the parts it had sent: its next resume continues from their end.
      const again = Option.getOrThrow(yield* second.resume(id))
      expect(again.held).toBe(content.length)
      const replayed = createHash("sha256")
      yield* again.replay((bytes) => Effect.sync(() => replayed.update(bytes)))
      expect(replayed.digest("hex")).toBe(createHash("sha256").update(content).digest("hex"))
      expect(yield* again.partial.commit(file("late.bin"), content.length)).toBe("late.bin")
      expect((yield* contentOf(bucket, "late.bin"))!.equals(content)).toBe(true)
      expect(yield* keysOf(bucket)).toEqual(["late.bin"])
    }).pipe(Effect.scoped), 60_000)

  it.live("a completion of .partial/ whose answer is lost (the retry finds no multipart upload) is seen to be done by the object's size: published", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const id = freshUploadId()
      let lost = false
      const proxy = yield* proxied({
        answerInstead: (call) => {
          if (lost || call !== `POST ${prefix}${S3FileStore.PARTIAL_FOLDER}${id}?uploadId`) return undefined
          lost = true
          return "lose"
        }
      })
      const [store, bucket] = yield* storeOn(prefix, proxy.endpoint)
      const content = randomBytes(11 * MiB)
      expect(yield* upload(store, content, "answered.bin", id)).toBe("answered.bin")
      expect(lost).toBe(true)
      expect((yield* contentOf(bucket, "answered.bin"))!.equals(content)).toBe(true)
      expect(yield* keysOf(bucket)).toEqual(["answered.bin"])
    }).pipe(Effect.scoped), 60_000)

  it.live("a lost completion of .partial/ that could not be checked either keeps the parts; the next resume sees the object complete, and publishes it", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const id = freshUploadId()
      const staged = `${prefix}${S3FileStore.PARTIAL_FOLDER}${id}`
      let lost = false
      let headsRefused = false
      const proxy = yield* proxied({
        answerInstead: (call) => {
          if (lost || call !== `POST ${staged}?uploadId`) return undefined
          lost = true
          headsRefused = true
          return "lose"
        },
        refuse: (call) => headsRefused && call === `HEAD ${staged}`
      })
      const [store, bucket] = yield* storeOn(prefix, proxy.endpoint)
      const content = randomBytes(11 * MiB)
      const error = yield* Effect.flip(upload(store, content, "checked.bin", id))
      expect(lost).toBe(true)
      expect(error.reason).toBe("Write")
      headsRefused = false
      // The parts were completed: S3 holds the whole file, although this instance could not tell.
      expect(yield* Effect.promise(() => bucket.size(`${S3FileStore.PARTIAL_FOLDER}${id}`))).toBe(content.length)
      const again = Option.getOrThrow(yield* store.resume(id))
      expect(again.held).toBe(content.length)
      yield* again.replay(() => Effect.void)
      expect(yield* again.partial.commit(file("checked.bin"), content.length)).toBe("checked.bin")
      expect((yield* contentOf(bucket, "checked.bin"))!.equals(content)).toBe(true)
      expect(yield* keysOf(bucket)).toEqual(["checked.bin"])
    }).pipe(Effect.scoped), 60_000)

  it.live("a small file whose put landed although S3 answered 409 is recognised as its own: published once", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      let answered = false
      const proxy = yield* proxied({
        answerInstead: (call) => {
          if (answered || call !== `PUT ${prefix}small.bin`) return undefined
          answered = true
          return { status: 409, code: "ConditionalRequestConflict" }
        }
      })
      const [store, bucket] = yield* storeOn(prefix, proxy.endpoint)
      const content = randomBytes(MiB + 1)
      expect(yield* upload(store, content, "small.bin")).toBe("small.bin")
      expect(answered).toBe(true)
      expect((yield* contentOf(bucket, "small.bin"))!.equals(content)).toBe(true)
      expect(yield* keysOf(bucket)).toEqual(["small.bin"])
    }).pipe(Effect.scoped), 60_000)

  it.live("a small file whose put S3 refuses is kept as its .partial/ object: suspended, and published by a resume on another instance", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      let refusing = true
      const proxy = yield* proxied({ refuse: (call) => refusing && call === `PUT ${prefix}tiny.bin` })
      const [first, bucket] = yield* storeOn(prefix, proxy.endpoint)
      const content = randomBytes(300_000)
      const id = freshUploadId()
      const error = yield* Effect.flip(upload(first, content, "tiny.bin", id))
      expect(error.reason).toBe("Write")
      expect(yield* Effect.promise(() => bucket.size(`${S3FileStore.PARTIAL_FOLDER}${id}`))).toBe(content.length)
      refusing = false
      const [second] = yield* storeOn(prefix, proxy.endpoint)
      const again = Option.getOrThrow(yield* second.resume(id))
      expect(again.held).toBe(content.length)
      yield* again.replay(() => Effect.void)
      expect(yield* again.partial.commit(file("tiny.bin"), content.length)).toBe("tiny.bin")
      expect((yield* contentOf(bucket, "tiny.bin"))!.equals(content)).toBe(true)
      expect(yield* keysOf(bucket)).toEqual(["tiny.bin"])
    }).pipe(Effect.scoped), 60_000)

  it.live("a completion whose answer is lost, retried and answered 412, is recognised as its own: one object, under the first name", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      let lost = false
      const proxy = yield* proxied({
        answerInstead: (call) => {
          if (lost || call !== `POST ${prefix}lost.bin?uploadId`) return undefined
          lost = true
          return "lose"
        }
      })
      const [store, bucket] = yield* storeOn(prefix, proxy.endpoint)
      const content = randomBytes(13 * MiB)
      expect(yield* upload(store, content, "lost.bin")).toBe("lost.bin")
      expect(lost).toBe(true)
      expect(proxy.requests().filter((call) => call === `POST ${prefix}lost.bin?uploadId`)).toHaveLength(2)
      expect((yield* contentOf(bucket, "lost.bin"))!.equals(content)).toBe(true)
      expect(yield* keysOf(bucket)).toEqual(["lost.bin"])
    }).pipe(Effect.scoped), 60_000)

  it.live("a commit after a crash between the large copy and recording finds its own object and publishes nothing twice", () =>
    Effect.gen(function*() {
      const prefix = freshPrefix()
      const [crashed, bucket] = yield* storeOn(prefix)
      const content = randomBytes(8 * MiB)
      const id = freshUploadId()
      const partial = yield* crashed.begin(id)
      yield* partial.append(content)
      expect((yield* Effect.exit(partial.commit(file("once.bin"), content.length, () => Effect.die("killed"))))._tag).toBe("Failure")
      const [restarted] = yield* storeOn(prefix)
      const again = Option.getOrThrow(yield* restarted.resume(id))
      expect(again.held).toBe(content.length)
      yield* again.replay(() => Effect.void)
      expect(yield* again.partial.commit(file("once.bin"), content.length, () => Effect.succeed(true))).toBe("once.bin")
      expect(yield* keysOf(bucket)).toEqual(["once.bin"])
    }), 60_000)
})

