/**
 * RegistryFallback with a primary that can be switched off: new uploads are
 * recorded locally during the outage and stay local for their whole life,
 * uploads recorded in the primary are never silently forgotten, and the
 * outage is logged once when it starts and once when it ends.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Ref } from "effect"
import * as MemoryUploadRegistry from "../../../src/adapters/memory/MemoryUploadRegistry.js"
import * as RegistryFallback from "../../../src/application/resilience/RegistryFallback.js"
import { UploadRegistry, UploadRegistryError, type UploadRecord } from "../../../src/application/ports/UploadRegistry.js"
import { type LogLine, recordingLogger } from "../../support/logs.js"

/** A memory primary that fails every call with "Unavailable" while `down` is true; `calls` counts what reached it. */
const switchable = (down: Ref.Ref<boolean>, calls: Ref.Ref<number>) =>
  Layer.effect(
    UploadRegistry,
    Effect.map(MemoryUploadRegistry.make, (registry) => {
      const unless = <A>(effect: Effect.Effect<A, UploadRegistryError>) =>
        Effect.zipRight(
          Ref.update(calls, (n) => n + 1),
          Effect.flatMap(Ref.get(down), (isDown) =>
            isDown ? Effect.fail(new UploadRegistryError({ reason: "Unavailable", cause: "connection refused" })) : effect)
        )
      return UploadRegistry.of({
        create: (record) => unless(registry.create(record)),
        get: (id) => unless(registry.get(id)),
        complete: (record) => unless(registry.complete(record)),
        list: unless(registry.list),
        remove: (id) => unless(registry.remove(id)),
        claim: (id) => unless(registry.claim(id)),
        holds: (id) => unless(registry.holds(id))
      })
    })
  )

const record = (uploadId: string): UploadRecord => ({
  uploadId,
  fileName: `${uploadId}.txt`,
  size: 10,
  expectedSha256: undefined,
  createdAt: 0
})

describe("RegistryFallback", () => {
  it.scoped("records new uploads locally during an outage; they stay local; shared ones are never silently forgotten", () =>
    Effect.gen(function*() {
      const down = yield* Ref.make(false)
      const calls = yield* Ref.make(0)
      const logged: Array<LogLine> = []
      const logger = recordingLogger(logged)
      const lines = () => logged.map((line) => line.message)
      const context = yield* Layer.build(RegistryFallback.layer(switchable(down, calls), MemoryUploadRegistry.layerMemory))
      const registry = yield* Effect.provide(UploadRegistry, context)

      yield* registry.create(record("shared"))
      yield* Ref.set(down, true)

      // New uploads go on, recorded here; the outage is logged once.
      yield* registry.create(record("local-1")).pipe(Effect.provide(logger))
      yield* registry.create(record("local-2")).pipe(Effect.provide(logger))
      expect(lines().filter((line) => line.includes("upload registry unavailable"))).toHaveLength(1)
      expect(yield* registry.get("local-1")).toEqual(Option.some(record("local-1")))
      const release = yield* registry.claim("local-1")
      expect(Option.isSome(release)).toBe(true)
      expect(Option.isNone(yield* registry.claim("local-1"))).toBe(true)
      expect(yield* registry.holds("local-1")).toBe(true)

      // An upload the primary holds is not reported unknown (that would make its client start over).
      const shared = yield* Effect.exit(registry.get("shared"))
      expect(Exit.isFailure(shared)).toBe(true)
      // The sweep still sees the local records.
      expect((yield* registry.list).map((r) => r.uploadId).sort()).toEqual(["local-1", "local-2"])

      // The primary is back: new uploads are shared again, local ones stay local.
      yield* Ref.set(down, false)
      yield* registry.create(record("shared-2")).pipe(Effect.provide(logger))
      expect(lines().filter((line) => line.includes("upload registry available again"))).toHaveLength(1)
      const before = yield* Ref.get(calls)
      expect(yield* registry.get("local-2")).toEqual(Option.some(record("local-2")))
      yield* registry.remove("local-2")
      expect(yield* registry.get("local-2")).toEqual(Option.none())
      expect(yield* Ref.get(calls)).toBe(before + 1) // only the last get, once local-2 is forgotten, asks the primary
      expect(yield* registry.get("shared")).toEqual(Option.some(record("shared")))
      expect(yield* registry.get("shared-2")).toEqual(Option.some(record("shared-2")))
    }))

  it.scoped("a corrupt record is an error, not a reason to fall back", () =>
    Effect.gen(function*() {
      const corrupt = Layer.succeed(UploadRegistry, UploadRegistry.of({
        create: () => Effect.fail(new UploadRegistryError({ reason: "Corrupt", cause: "bad json" })),
        get: () => Effect.succeedNone,
        complete: () => Effect.void,
        list: Effect.succeed([]),
        remove: () => Effect.void,
        claim: () => Effect.succeedNone,
        holds: () => Effect.succeed(false)
      }))
      const context = yield* Layer.build(RegistryFallback.layer(corrupt, MemoryUploadRegistry.layerMemory))
      const registry = yield* Effect.provide(UploadRegistry, context)
      const created = yield* Effect.exit(registry.create(record("x")))
      expect(Exit.isFailure(created)).toBe(true)
    }))
})
