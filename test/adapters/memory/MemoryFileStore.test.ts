import { describe, expect, it } from "@effect/vitest"
import { Effect, HashMap, Layer, Option } from "effect"
import { FileStore } from "../../../src/application/ports/FileStore.js"
import { layerMemory, MemoryFiles } from "../../../src/adapters/memory/MemoryFileStore.js"
import { fileStoreContract, freshUploadId, StoreInspector } from "../../contracts/FileStore.contract.js"

const inspector = Layer.effect(
  StoreInspector,
  Effect.map(MemoryFiles, (files) =>
    StoreInspector.of({
      visible: Effect.map(files.committed, (map) => [...HashMap.keys(map)].sort()),
      read: (name) => Effect.map(files.committed, (map) => HashMap.get(map, name).pipe((o) => (o._tag === "Some" ? o.value : undefined))),
      partials: Effect.map(files.partialIds, (ids) => ids.length)
    }))
)

fileStoreContract("memory", Layer.provideMerge(inspector, layerMemory))

describe("MemoryFileStore", () => {
  it.effect("openPartials counts the partials being written, not the suspended ones", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const files = yield* MemoryFiles
      const [a, b] = [freshUploadId(), freshUploadId()]
      const partialA = yield* store.begin(a)
      yield* store.begin(b)
      expect(yield* files.openPartials).toBe(2)
      yield* partialA.suspend
      expect(yield* files.openPartials).toBe(1)
      expect([...(yield* files.partialIds)].sort()).toEqual([a, b].sort())
      const resumed = yield* store.resume(a)
      expect(Option.isSome(resumed)).toBe(true)
      expect(yield* files.openPartials).toBe(2)
    }).pipe(Effect.provide(layerMemory)))

  it.effect("touchedAt comes from effect's Clock", () =>
    Effect.gen(function*() {
      const store = yield* FileStore
      const id = freshUploadId()
      const partial = yield* store.begin(id)
      yield* partial.append(new Uint8Array([1]))
      // it.effect runs on the TestClock, which starts at 0.
      expect(yield* store.partials).toEqual([{ uploadId: id, touchedAt: 0 }])
    }).pipe(Effect.provide(layerMemory)))
})
