/**
 * In-process UploadRegistry: records and claims in Refs. Resume works across
 * connections of one process (not across restarts: see FsUploadRegistry).
 */
import { Effect, HashMap, Layer, Option, Ref } from "effect"
import { type UploadRecord, UploadRegistry } from "../../application/ports/UploadRegistry.js"

/**
 * In-process claims, shared by the single-process registries. Each claim has
 * its own token, so a release that runs late (or twice) can never free a
 * claim that someone else holds by then.
 */
export const makeClaims = Effect.gen(function*() {
  const claims = yield* Ref.make(HashMap.empty<string, number>())
  const tokens = yield* Ref.make(0)
  const claim = (id: string): Effect.Effect<Option.Option<Effect.Effect<void>>> =>
    Effect.flatMap(Ref.updateAndGet(tokens, (n) => n + 1), (token) =>
      Ref.modify(claims, (held) =>
        HashMap.has(held, id)
          ? [Option.none(), held]
          : [
            Option.some(Ref.update(claims, (now) => (Option.contains(HashMap.get(now, id), token) ? HashMap.remove(now, id) : now))),
            HashMap.set(held, id, token)
          ]))
  const holds = (id: string): Effect.Effect<boolean> => Effect.map(Ref.get(claims), HashMap.has(id))
  return { claim, holds }
})

export const make = Effect.gen(function*() {
  const records = yield* Ref.make(HashMap.empty<string, UploadRecord>())
  const { claim, holds } = yield* makeClaims
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

