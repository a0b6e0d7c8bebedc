import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { UploadRegistry } from "../../../src/application/ports/UploadRegistry.js"
import * as MemoryUploadRegistry from "../../../src/adapters/memory/MemoryUploadRegistry.js"
import { freshUploadId, recordFor, uploadRegistryContract } from "../../contracts/UploadRegistry.contract.js"

uploadRegistryContract("memory", MemoryUploadRegistry.layerMemory)

describe("MemoryUploadRegistry", () => {
  it.effect("each registry (each process) has its own records and claims", () =>
    Effect.gen(function*() {
      const id = freshUploadId()
      const first = yield* MemoryUploadRegistry.make
      const second = yield* MemoryUploadRegistry.make
      yield* first.create(recordFor(id))
      const release = Option.getOrThrow(yield* first.claim(id))
      expect(yield* second.get(id)).toEqual(Option.none())
      expect(Option.isSome(yield* second.claim(id))).toBe(true)
      yield* release
    }))

  it.effect("the layer provides a working registry", () =>
    Effect.gen(function*() {
      const registry = yield* UploadRegistry
      const record = recordFor(freshUploadId())
      yield* registry.create(record)
      expect(yield* registry.get(record.uploadId)).toEqual(Option.some(record))
    }).pipe(Effect.provide(MemoryUploadRegistry.layerMemory)))
})
