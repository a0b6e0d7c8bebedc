/**
 * The UploadRegistry contract, run against every adapter (memory, sidecar
 * files, Redis) with the live clock. Each test gets a fresh registry from
 * the layer and uses upload ids no other test uses.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import type { Layer } from "effect"
import { randomBytes } from "node:crypto"
import { type UploadRecord, UploadRegistry } from "../../src/application/ports/UploadRegistry.js"

/**
 * Contract rules an adapter is known to break (a bug reported against
 * src/): their tests are expected to fail for that adapter, so they turn red
 * once it is fixed and the entry can go.
 */
export type UploadRegistryKnownBug =
  /** A release run a second time frees whatever claim is held at that moment, someone else's included. */
  "stale-release-frees-another-claim"

/** A fresh upload id, as the application makes them (144 random bits, base64url). */
export const freshUploadId = (): string => randomBytes(18).toString("base64url")

export const recordFor = (uploadId: string, fields: Partial<Omit<UploadRecord, "uploadId">> = {}): UploadRecord => ({
  uploadId,
  fileName: "Quarterly report.pdf",
  size: 123_456_789,
  expectedSha256: undefined,
  createdAt: 1_790_000_000_123,
  ...fields
})

export const uploadRegistryContract = (
  adapter: string,
  layer: Layer.Layer<UploadRegistry>,
  options: { readonly skip?: boolean; readonly knownBugs?: ReadonlyArray<UploadRegistryKnownBug> } = {}
) =>
  describe.skipIf(options.skip === true)(`UploadRegistry contract: ${adapter}`, () => {
    const live = (bug?: UploadRegistryKnownBug) =>
      bug !== undefined && options.knownBugs?.includes(bug) === true ? it.live.fails : it.live

    const withRegistry = <A, E>(body: (registry: UploadRegistry["Type"]) => Effect.Effect<A, E>) =>
      Effect.flatMap(UploadRegistry, body).pipe(Effect.provide(layer))

    live()("get of an unknown upload is None", () =>
      withRegistry((registry) =>
        Effect.gen(function*() {
          expect(yield* registry.get(freshUploadId())).toEqual(Option.none())
        })
      ))

    live()("create then get returns the record (no expected sha256)", () =>
      withRegistry((registry) =>
        Effect.gen(function*() {
          const record = recordFor(freshUploadId())
          yield* registry.create(record)
          const found = Option.getOrThrow(yield* registry.get(record.uploadId))
          expect(found).toEqual(record)
          expect(found.expectedSha256).toBeUndefined()
          yield* registry.remove(record.uploadId)
        })
      ))

    live()("create then get returns the record with its expected sha256", () =>
      withRegistry((registry) =>
        Effect.gen(function*() {
          const record = recordFor(freshUploadId(), { expectedSha256: "0123456789abcdef".repeat(4) })
          yield* registry.create(record)
          expect(yield* registry.get(record.uploadId)).toEqual(Option.some(record))
          yield* registry.remove(record.uploadId)
        })
      ))

    live()("keeps the file name exactly as sent (case, spaces, unicode, quotes)", () =>
      withRegistry((registry) =>
        Effect.gen(function*() {
          const record = recordFor(freshUploadId(), { fileName: `Résumé "final" ✓ ${"x".repeat(200)}.PDF`, size: 0 })
          yield* registry.create(record)
          expect(yield* registry.get(record.uploadId)).toEqual(Option.some(record))
          yield* registry.remove(record.uploadId)
        })
      ))

    live()("records are kept per upload id", () =>
      withRegistry((registry) =>
        Effect.gen(function*() {
          const a = recordFor(freshUploadId(), { fileName: "a.txt", size: 1 })
          const b = recordFor(freshUploadId(), { fileName: "b.txt", size: 2 })
          yield* registry.create(a)
          yield* registry.create(b)
          expect(yield* registry.get(a.uploadId)).toEqual(Option.some(a))
          expect(yield* registry.get(b.uploadId)).toEqual(Option.some(b))
          yield* registry.remove(a.uploadId)
          expect(yield* registry.get(a.uploadId)).toEqual(Option.none())
          expect(yield* registry.get(b.uploadId)).toEqual(Option.some(b))
          yield* registry.remove(b.uploadId)
        })
      ))

    live()("remove forgets the upload, and is idempotent", () =>
      withRegistry((registry) =>
        Effect.gen(function*() {
          const record = recordFor(freshUploadId())
          yield* registry.create(record)
          yield* registry.remove(record.uploadId)
          expect(yield* registry.get(record.uploadId)).toEqual(Option.none())
          yield* registry.remove(record.uploadId)
          yield* registry.remove(freshUploadId())
        })
      ))

    live()("keeps who started the upload", () =>
      withRegistry((registry) =>
        Effect.gen(function*() {
          const record = recordFor(freshUploadId(), { identity: "alice" })
          yield* registry.create(record)
          expect(yield* registry.get(record.uploadId)).toEqual(Option.some(record))
          yield* registry.remove(record.uploadId)
        })
      ))

    live()("complete replaces the record with the completed one: get returns what the upload was stored as", () =>
      withRegistry((registry) =>
        Effect.gen(function*() {
          const record = recordFor(freshUploadId(), { identity: "alice", expectedSha256: "ab".repeat(32) })
          yield* registry.create(record)
          const completed = { ...record, completed: { storedName: "Quarterly report_1.pdf", extension: "pdf", sha256: "ab".repeat(32), completedAt: 1_790_000_100_000 } }
          yield* registry.complete(completed)
          expect(yield* registry.get(record.uploadId)).toEqual(Option.some(completed))
          // A registry whose records do not expire by themselves lists it, for the sweep to forget it in time.
          const listed = yield* registry.list
          if (listed.length > 0) expect(listed.find((found) => found.uploadId === record.uploadId)).toEqual(completed)
          yield* registry.remove(record.uploadId)
          expect(yield* registry.get(record.uploadId)).toEqual(Option.none())
        })
      ))

    live()("a completed upload stored without a digest (INTEGRITY=requested) is read back without one", () =>
      withRegistry((registry) =>
        Effect.gen(function*() {
          const record = recordFor(freshUploadId())
          yield* registry.create(record)
          const completed = { ...record, completed: { storedName: "plain.pdf", extension: "pdf", completedAt: 1_790_000_100_000 } }
          yield* registry.complete(completed)
          const found = yield* registry.get(record.uploadId)
          expect(found).toEqual(Option.some(completed))
          expect(Option.map(found, (upload) => "sha256" in (upload.completed ?? {}))).toEqual(Option.some(false))
          yield* registry.remove(record.uploadId)
        })
      ))

    live()("a claim is exclusive until it is released; then it can be claimed again", () =>
      withRegistry((registry) =>
        Effect.gen(function*() {
          const id = freshUploadId()
          yield* registry.create(recordFor(id))
          const first = yield* registry.claim(id)
          expect(Option.isSome(first)).toBe(true)
          expect(yield* registry.claim(id)).toEqual(Option.none())
          expect(yield* registry.claim(id)).toEqual(Option.none())
          yield* Option.getOrThrow(first)
          const second = yield* registry.claim(id)
          expect(Option.isSome(second)).toBe(true)
          expect(yield* registry.claim(id)).toEqual(Option.none())
          yield* Option.getOrThrow(second)
          yield* registry.remove(id)
        })
      ))

    live()("claims are per upload id, and do not need a record", () =>
      withRegistry((registry) =>
        Effect.gen(function*() {
          const [a, b] = [freshUploadId(), freshUploadId()]
          const claimA = Option.getOrThrow(yield* registry.claim(a))
          const claimB = Option.getOrThrow(yield* registry.claim(b))
          yield* claimA
          expect(yield* registry.claim(b)).toEqual(Option.none())
          yield* claimB
        })
      ))

    live()("removing a record leaves its claim held", () =>
      withRegistry((registry) =>
        Effect.gen(function*() {
          const id = freshUploadId()
          yield* registry.create(recordFor(id))
          const release = Option.getOrThrow(yield* registry.claim(id))
          yield* registry.remove(id)
          expect(yield* registry.claim(id)).toEqual(Option.none())
          yield* release
        })
      ))

    live()("of many concurrent claims exactly one wins", () =>
      withRegistry((registry) =>
        Effect.gen(function*() {
          const id = freshUploadId()
          const claims = yield* Effect.forEach(Array.from({ length: 20 }), () => registry.claim(id), {
            concurrency: "unbounded"
          })
          const won = claims.filter(Option.isSome)
          expect(won.length).toBe(1)
          yield* won[0]!.value
          const again = Option.getOrThrow(yield* registry.claim(id))
          yield* again
        })
      ))

    live("stale-release-frees-another-claim")("a release only ends its own claim: running it again leaves a later holder's claim", () =>
      withRegistry((registry) =>
        Effect.gen(function*() {
          const id = freshUploadId()
          const first = Option.getOrThrow(yield* registry.claim(id))
          yield* first
          const second = Option.getOrThrow(yield* registry.claim(id))
          yield* first // stale: the first holder's claim is long gone
          const third = yield* registry.claim(id)
          if (Option.isSome(third)) yield* third.value
          yield* second
          expect(third).toEqual(Option.none())
        })
      ))
  })
