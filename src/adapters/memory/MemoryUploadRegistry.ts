/**
 * In-process UploadRegistry: records and claims in Refs. Resume works across
 * connections of one process (not across restarts: see FsUploadRegistry).
 */
import { Effect, HashMap, Layer, Ref } from "effect"
import { type UploadRecord, UploadRegistry } from "../../application/ports/UploadRegistry.js"
import * as InProcessClaims from "../shared/InProcessClaims.js"

export const make = Effect.gen(function*() {
  const records = yield* Ref.make(HashMap.empty<string, UploadRecord>())
  const { claim, holds } = yield* InProcessClaims.make
  return UploadRegistry.of({
    create: (record) => Ref.update(records, HashMap.set(record.uploadId, record)),
    get: (id) => Effect.map(Ref.get(records), HashMap.get(id)),
    complete: (record) => Ref.update(records, HashMap.set<string, UploadRecord>(record.uploadId, record)),
    list: Effect.map(Ref.get(records), (map) => Array.from(HashMap.values(map))),
    remove: (id) => Ref.update(records, HashMap.remove(id)),
    claim,
    holds
  })
})

export const layerMemory: Layer.Layer<UploadRegistry> = Layer.effect(UploadRegistry, make)

