/**
 * The expiry sweep when a removal fails: the upload is reported expired once,
 * after it is gone, and the failure is logged once, however many sweeps it
 * takes. The sweep runs in the background on the TestClock, with in-memory
 * adapters whose removals fail a given number of times.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Logger, LogLevel, Ref, TestClock } from "effect"
import { FileStore, FileStoreError } from "../../../src/application/ports/FileStore.js"
import * as UploadExpiry from "../../../src/application/uploads/UploadExpiry.js"
import { UploadRegistry, UploadRegistryError } from "../../../src/application/ports/UploadRegistry.js"
import * as MemoryFileStore from "../../../src/adapters/memory/MemoryFileStore.js"
import * as MemoryUploadEvents from "../../../src/adapters/memory/MemoryUploadEvents.js"
import * as MemoryUploadRegistry from "../../../src/adapters/memory/MemoryUploadRegistry.js"
import { type LogLine, recordingLogger } from "../../support/logs.js"
import { events, partialIds, storeWith } from "../support/session.js"

const uploadId = "idle-upload-0000000000000"

/** A memory store whose `remove` fails its first `failures` calls (as a file the filesystem will not delete). */
const storeFailingRemoves = (failures: number) =>
  storeWith((store) =>
    Effect.map(Ref.make(failures), (left) =>
      FileStore.of({
        ...store,
        remove: (id) =>
          Effect.flatMap(Ref.getAndUpdate(left, (n) => n - 1), (n) =>
            n > 0 ? Effect.fail(new FileStoreError({ reason: "Remove", cause: `EPERM: operation not permitted, unlink '.${id}.part'` })) : store.remove(id))
      }))
  )

/** A memory registry whose `remove` fails its first `failures` calls; with `lists: false`, `list` finds nothing (as Redis's). */
const registryFailingRemoves = (failures: number, options: { readonly lists?: boolean } = {}) =>
  Layer.effect(
    UploadRegistry,
    Effect.gen(function*() {
      const registry = yield* MemoryUploadRegistry.make
      const left = yield* Ref.make(failures)
      return UploadRegistry.of({
        ...registry,
        list: options.lists === false ? Effect.succeed([]) : registry.list,
        remove: (id) =>
          Effect.flatMap(Ref.getAndUpdate(left, (n) => n - 1), (n) =>
            n > 0 ? Effect.fail(new UploadRegistryError({ reason: "Unavailable", cause: `cannot unlink .${id}.json` })) : registry.remove(id))
      })
    })
  )

/**
 * Runs `body` with a suspended upload idle since time 0, the sweep in the
 * background every minute (expiry one hour), and every log line recorded.
 */
const withIdleUpload = <A, E>(
  store: Layer.Layer<FileStore | MemoryFileStore.MemoryFiles>,
  registry: Layer.Layer<UploadRegistry>,
  body: (lines: ReadonlyArray<LogLine>) => Effect.Effect<A, E, FileStore | UploadRegistry | MemoryFileStore.MemoryFiles | MemoryUploadEvents.RecordedEvents>
) =>
  Effect.gen(function*() {
    const lines: Array<LogLine> = []
    const logger = recordingLogger(lines)
    const backends = Layer.mergeAll(store, registry, MemoryUploadEvents.layerMemory)
    const setUp = Effect.gen(function*() {
      const files = yield* FileStore
      const partial = yield* files.begin(uploadId)
      yield* partial.append(new TextEncoder().encode("abc"))
      yield* partial.suspend
      yield* (yield* UploadRegistry).create({ uploadId, fileName: "idle.txt", size: 10, expectedSha256: undefined, createdAt: 0 })
    })
    const sweeping = UploadExpiry.layer({ expiry: Duration.hours(1), interval: Duration.minutes(1) })
    return yield* setUp.pipe(
      Effect.zipRight(Effect.suspend(() => body(lines))),
      Effect.provide(Layer.provideMerge(sweeping, backends)),
      Effect.provide(logger),
      Logger.withMinimumLogLevel(LogLevel.Info)
    )
  })

const expiredEvents = Effect.map(events, (all) => all.filter((event) => event.type === "upload.expired"))

const warnings = (lines: ReadonlyArray<LogLine>) => lines.filter((line) => line.level === "WARN")

describe("the expiry sweep when a removal fails", () => {
  it.effect("a partial that cannot be removed twice is reported expired once, after the third sweep removes it, and warned about once", () =>
    withIdleUpload(storeFailingRemoves(2), MemoryUploadRegistry.layerMemory, (lines) =>
      Effect.gen(function*() {
        yield* TestClock.adjust(Duration.minutes(60))
        expect(yield* expiredEvents).toEqual([])
        yield* TestClock.adjust(Duration.minutes(1))
        expect(yield* expiredEvents).toEqual([])
        // Still held, and still resumable: nothing was removed yet.
        expect(yield* partialIds).toEqual([uploadId])
        expect((yield* Effect.flatMap(UploadRegistry, (registry) => registry.list)).map((record) => record.uploadId)).toEqual([uploadId])

        yield* TestClock.adjust(Duration.minutes(1))
        const [event, ...more] = yield* expiredEvents
        expect(more).toEqual([])
        expect(event).toMatchObject({ type: "upload.expired", upload_id: uploadId, file_name: "idle.txt", size: 10 })
        expect(yield* partialIds).toEqual([])
        expect(yield* Effect.flatMap(UploadRegistry, (registry) => registry.list)).toEqual([])

        yield* TestClock.adjust(Duration.minutes(10))
        expect(yield* expiredEvents).toHaveLength(1)
        const warned = warnings(lines)
        expect(warned.map((line) => line.message)).toEqual(["could not remove an expired upload; later sweeps will try again"])
        expect(warned[0]!.annotations).toMatchObject({ leftover: "partial data" })
        // Logs name the upload by its reference, never by its id.
        expect(JSON.stringify(lines)).not.toContain(uploadId)
        expect(lines.filter((line) => line.message === "expired upload removed after failed attempts").map((line) => line.annotations["attempts"]))
          .toEqual([3])
      })))

  it.effect("a record that cannot be removed twice: one warning, and one event once it is gone, with what the record knew", () =>
    withIdleUpload(MemoryFileStore.layerMemory, registryFailingRemoves(2), (lines) =>
      Effect.gen(function*() {
        yield* TestClock.adjust(Duration.minutes(61))
        expect(yield* expiredEvents).toEqual([])
        expect(yield* partialIds).toEqual([])
        yield* TestClock.adjust(Duration.minutes(1))
        yield* TestClock.adjust(Duration.minutes(10))
        const events = yield* expiredEvents
        expect(events).toHaveLength(1)
        expect(events[0]).toMatchObject({ upload_id: uploadId, file_name: "idle.txt", size: 10 })
        expect(yield* Effect.flatMap(UploadRegistry, (registry) => registry.list)).toEqual([])
        expect(warnings(lines).map((line) => [line.message, line.annotations["leftover"]])).toEqual([
          ["could not remove an expired upload; later sweeps will try again", "record"]
        ])
        expect(JSON.stringify(lines)).not.toContain(uploadId)
      })))

  it.effect("a registry that lists no records (as Redis's): a record left behind is retried and reported all the same", () =>
    withIdleUpload(MemoryFileStore.layerMemory, registryFailingRemoves(1, { lists: false }), (lines) =>
      Effect.gen(function*() {
        yield* TestClock.adjust(Duration.minutes(60))
        expect(yield* expiredEvents).toEqual([])
        yield* TestClock.adjust(Duration.minutes(5))
        expect((yield* expiredEvents).map((event) => [event.upload_id, event.file_name])).toEqual([[uploadId, "idle.txt"]])
        expect(warnings(lines)).toHaveLength(1)
      })))
})
