/**
 * In-process UploadRegistry: records and claims in Refs. Resume works across
 * connections of one process (not across restarts: see FsUploadRegistry).
 */
import { Effect, HashMap, HashSet, Layer, Option, Ref } from "effect"
import { type UploadRecord, UploadRegistry } from "../../application/UploadRegistry.js"

/** In-process claims, shared by the single-process registries. */
export const makeClaims = Effect.map(Ref.make(HashSet.empty<string>()), (claims) => (id: string) =>
  Ref.modify(claims, (held) =>
    HashSet.has(held, id)
      ? [Option.none<Effect.Effect<void>>(), held]
      : [Option.some(Ref.update(claims, HashSet.remove(id))), HashSet.add(held, id)]))

export const make = Effect.gen(function*() {
  const records = yield* Ref.make(HashMap.empty<string, UploadRecord>())
  const claim = yield* makeClaims
  return UploadRegistry.of({
    create: (record) => Ref.update(records, HashMap.set(record.uploadId, record)),
    get: (id) => Effect.map(Ref.get(records), HashMap.get(id)),
    remove: (id) => Ref.update(records, HashMap.remove(id)),
    claim
  })
})

export const layerMemory: Layer.Layer<UploadRegistry> = Layer.effect(UploadRegistry, make)

