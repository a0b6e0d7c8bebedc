/**
 * The FileStore contract, run against every adapter (like tus-node-server's
 * shared store tests). A harness gives a fresh store per test and a way to
 * look at what it holds.
 */
import { describe, expect, it } from "@effect/vitest"
import { Clock, Context, Duration, Effect, Either, Option } from "effect"
import type { Layer } from "effect"
import { randomBytes } from "node:crypto"
import { FileStore } from "../../src/application/ports/FileStore.js"
import * as FileName from "../../src/domain/FileName.js"

/** What a test can see of a store's contents. */
export class StoreInspector extends Context.Tag("test/StoreInspector")<StoreInspector, {
  /** Names of the visible (committed) files, sorted. */
  readonly visible: Effect.Effect<ReadonlyArray<string>>
  /** Content of a committed file. */
  readonly read: (name: string) => Effect.Effect<Uint8Array | undefined>
  /** How many partial (uncommitted) files exist, open or suspended. */
  readonly partials: Effect.Effect<number>
}>() {}

/** A fresh, empty store for each test, with its inspector. */
export type FileStoreHarness = Layer.Layer<FileStore | StoreInspector>

/**
 * Contract rules an adapter is known to break (a bug reported against
 * src/): their tests are expected to fail for that adapter, so they turn red
 * once it is fixed and the entry can go.
 */
export type FileStoreKnownBug =
  /** `resume` reopens a partial that is still open (a second writer) instead of answering None. */
  | "resume-of-open-partial"
  /** `append` on a suspended (closed) partial never completes instead of failing. */
  | "append-after-suspend"

/** A fresh upload id, as the application makes them (144 random bits, base64url). */
export const freshUploadId = (): string => randomBytes(18).toString("base64url")

const file = (name: string) => Either.getOrThrow(FileName.validate(name, ["txt", "pdf", "jpg"]))
const bytes = (text: string) => new TextEncoder().encode(text)
const text = (data: Uint8Array | undefined) => (data === undefined ? undefined : new TextDecoder().decode(data))

export const fileStoreContract = (
  adapter: string,
  harness: FileStoreHarness,
  options: { readonly knownBugs?: ReadonlyArray<FileStoreKnownBug> } = {}
) =>
  describe(`FileStore contract: ${adapter}`, () => {
    /** `it.live`, or `it.live.fails` when this adapter is known to break the rule. */
    const live = (bug: FileStoreKnownBug) => (options.knownBugs?.includes(bug) === true ? it.live.fails : it.live)

    const withStore = <A, E>(body: (store: FileStore["Type"], inspect: StoreInspector["Type"]) => Effect.Effect<A, E>) =>
      Effect.gen(function*() {
        const store = yield* FileStore
        const inspect = yield* StoreInspector
        return yield* body(store, inspect)
      }).pipe(Effect.provide(harness))

    it.effect("append calls `alongside` once per chunk, with the bytes still intact", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const partial = yield* store.begin(freshUploadId())
          const seen: Array<string> = []
          for (const piece of ["hello ", "world"]) {
            // A chunk that spans its own ArrayBuffer: the one kind a store may free (see adapters/Release).
            const chunk = new Uint8Array(new ArrayBuffer(piece.length))
            chunk.set(bytes(piece))
            yield* partial.append(chunk, () => seen.push(Buffer.from(chunk).toString()))
          }
          expect(seen).toEqual(["hello ", "world"])
          yield* partial.commit(file("alongside.txt"))
          expect(text(yield* inspect.read("alongside.txt"))).toBe("hello world")
        })
      ))

    it.effect("commit stores every appended byte, in order, under the requested name", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const partial = yield* store.begin(freshUploadId())
          yield* partial.append(bytes("hello "))
          yield* partial.append(bytes("world"))
          const stored = yield* partial.commit(file("greeting.txt"))
          expect(stored).toBe("greeting.txt")
          expect(text(yield* inspect.read("greeting.txt"))).toBe("hello world")
          expect(yield* inspect.partials).toBe(0)
        })
      ))

    it.effect("a partial file is not visible until it is committed", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const partial = yield* store.begin(freshUploadId())
          yield* partial.append(bytes("half"))
          expect(yield* inspect.visible).toEqual([])
          expect(yield* inspect.partials).toBe(1)
          yield* partial.commit(file("half.txt"))
          expect(yield* inspect.visible).toEqual(["half.txt"])
        })
      ))

    it.effect("commit never overwrites: a taken name gets the next free alternative", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const names: Array<string> = []
          for (const content of ["first", "second", "third"]) {
            const partial = yield* store.begin(freshUploadId())
            yield* partial.append(bytes(content))
            names.push(yield* partial.commit(file("report.pdf")))
          }
          expect(names).toEqual(["report.pdf", "report_1.pdf", "report_2.pdf"])
          expect(text(yield* inspect.read("report.pdf"))).toBe("first")
          expect(text(yield* inspect.read("report_2.pdf"))).toBe("third")
        })
      ))

    it.effect("concurrent commits of one name all get distinct names and keep their content", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const stored = yield* Effect.forEach(
            Array.from({ length: 12 }, (_, i) => i),
            (i) =>
              Effect.gen(function*() {
                const partial = yield* store.begin(freshUploadId())
                yield* partial.append(bytes(`upload ${i}`))
                return [i, yield* partial.commit(file("same.txt"))] as const
              }),
            { concurrency: "unbounded" }
          )
          expect(new Set(stored.map(([, name]) => name)).size).toBe(12)
          for (const [i, name] of stored) expect(text(yield* inspect.read(name))).toBe(`upload ${i}`)
        })
      ))

    it.effect("an empty upload commits an empty file", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const partial = yield* store.begin(freshUploadId())
          expect(yield* partial.commit(file("empty.txt"))).toBe("empty.txt")
          expect((yield* inspect.read("empty.txt"))?.length).toBe(0)
        })
      ))

    it.effect("discard removes the partial data and leaves nothing visible", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const partial = yield* store.begin(freshUploadId())
          yield* partial.append(bytes("never mind"))
          yield* partial.discard
          yield* partial.discard
          expect(yield* inspect.visible).toEqual([])
          expect(yield* inspect.partials).toBe(0)
        })
      ))

    it.effect("discard after commit keeps the committed file; commit after discard fails", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const kept = yield* store.begin(freshUploadId())
          yield* kept.append(bytes("keep"))
          yield* kept.commit(file("keep.txt"))
          yield* kept.discard
          expect(text(yield* inspect.read("keep.txt"))).toBe("keep")

          const dropped = yield* store.begin(freshUploadId())
          yield* dropped.discard
          const error = yield* Effect.flip(dropped.commit(file("dropped.txt")))
          expect(error._tag).toBe("FileStoreError")
          expect(yield* inspect.visible).toEqual(["keep.txt"])
        })
      ))

    it.effect("the original spelling of the name is kept", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const partial = yield* store.begin(freshUploadId())
          expect(yield* partial.commit(file("Photo.JPG"))).toBe("Photo.JPG")
          expect(yield* inspect.visible).toEqual(["Photo.JPG"])
        })
      ))

    // -------------------------------------------------------------------------
    // Suspend and resume

    /** Collects what `replay` feeds, as text. */
    const replayed = (resumed: { readonly replay: (onBytes: (bytes: Uint8Array) => Effect.Effect<void>) => Effect.Effect<void, unknown> }) =>
      Effect.gen(function*() {
        const parts: Array<Uint8Array> = []
        yield* resumed.replay((part) => Effect.sync(() => void parts.push(Uint8Array.from(part))))
        return text(Buffer.concat(parts))
      })

    it.effect("resume of a suspended partial holds every appended byte and replays exactly those bytes", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const id = freshUploadId()
          const partial = yield* store.begin(id)
          yield* partial.append(bytes("hello "))
          yield* partial.append(bytes("world"))
          yield* partial.suspend
          expect(yield* inspect.visible).toEqual([])
          expect(yield* inspect.partials).toBe(1)
          const resumed = Option.getOrThrow(yield* store.resume(id))
          expect(resumed.held).toBe(11)
          expect(yield* replayed(resumed)).toBe("hello world")
          // Replaying does not consume anything: it can run again.
          expect(yield* replayed(resumed)).toBe("hello world")
          yield* resumed.partial.suspend
        })
      ))

    it.effect("replay reads on only once the effect onBytes returned is done, in order", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const id = freshUploadId()
          const partial = yield* store.begin(id)
          yield* partial.append(bytes("first part, "))
          yield* partial.append(bytes("second part"))
          yield* partial.suspend
          const resumed = Option.getOrThrow(yield* store.resume(id))
          const parts: Array<Uint8Array> = []
          let started = 0
          let finished = 0
          let overlapped = false
          yield* resumed.replay((part) =>
            Effect.gen(function*() {
              if (started !== finished) overlapped = true
              started++
              parts.push(Uint8Array.from(part))
              // A real wait (a macrotask), not a fiber yield: a store that did not wait would go on meanwhile.
              yield* Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 2)))
              finished++
            })
          )
          expect(overlapped).toBe(false)
          expect(finished).toBe(started)
          expect(text(Buffer.concat(parts))).toBe("first part, second part")
          yield* resumed.partial.suspend
        }))
    )

    it.effect("appending after a resume continues the file", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const id = freshUploadId()
          const first = yield* store.begin(id)
          yield* first.append(bytes("abc"))
          yield* first.suspend
          const second = Option.getOrThrow(yield* store.resume(id))
          yield* second.partial.append(bytes("def"))
          yield* second.partial.suspend
          const third = Option.getOrThrow(yield* store.resume(id))
          expect(third.held).toBe(6)
          expect(yield* replayed(third)).toBe("abcdef")
          yield* third.partial.append(bytes("ghi"))
          expect(yield* third.partial.commit(file("resumed.txt"))).toBe("resumed.txt")
          expect(text(yield* inspect.read("resumed.txt"))).toBe("abcdefghi")
          expect(yield* inspect.partials).toBe(0)
          expect(yield* store.resume(id)).toEqual(Option.none())
        })
      ))

    it.effect("a suspended empty partial resumes with nothing held and nothing to replay", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const id = freshUploadId()
          yield* Effect.flatMap(store.begin(id), (partial) => partial.suspend)
          const resumed = Option.getOrThrow(yield* store.resume(id))
          expect(resumed.held).toBe(0)
          expect(yield* replayed(resumed)).toBe("")
          yield* resumed.partial.discard
        })
      ))

    it.effect("resume of an unknown id is None", () =>
      withStore((store) =>
        Effect.gen(function*() {
          expect(yield* store.resume(freshUploadId())).toEqual(Option.none())
        })
      ))

    it.effect("each upload id has its own partial file", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const [a, b] = [freshUploadId(), freshUploadId()]
          const partialA = yield* store.begin(a)
          const partialB = yield* store.begin(b)
          yield* partialA.append(bytes("aaa"))
          yield* partialB.append(bytes("b"))
          yield* partialA.suspend
          yield* partialB.suspend
          const resumedA = Option.getOrThrow(yield* store.resume(a))
          const resumedB = Option.getOrThrow(yield* store.resume(b))
          expect([resumedA.held, resumedB.held]).toEqual([3, 1])
          expect([yield* replayed(resumedA), yield* replayed(resumedB)]).toEqual(["aaa", "b"])
          yield* resumedA.partial.discard
          yield* resumedB.partial.discard
        })
      ))

    // FileStore.resume: "Reopens the *suspended* partial file": an open one (being written) is not handed out again.
    live("resume-of-open-partial")("resume of a partial that is still open fails with Busy (it is not gone)", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const id = freshUploadId()
          const partial = yield* store.begin(id)
          yield* partial.append(bytes("open"))
          const second = yield* Effect.either(store.resume(id))
          // Clean up before asserting, so a second writer never outlives the test.
          if (Either.isRight(second) && Option.isSome(second.right)) yield* second.right.value.partial.suspend
          yield* partial.discard
          expect(second).toMatchObject({ _tag: "Left", left: { _tag: "FileStoreError", reason: "Busy" } })
        })
      ))

    it.effect("suspend is idempotent; discard and commit after suspend leave the data for a resume", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const id = freshUploadId()
          const partial = yield* store.begin(id)
          yield* partial.append(bytes("kept"))
          yield* partial.suspend
          yield* partial.suspend
          yield* partial.discard
          const error = yield* Effect.flip(partial.commit(file("kept.txt")))
          expect(error._tag).toBe("FileStoreError")
          expect(yield* inspect.visible).toEqual([])
          expect(yield* inspect.partials).toBe(1)
          const resumed = Option.getOrThrow(yield* store.resume(id))
          expect(resumed.held).toBe(4)
          expect(yield* replayed(resumed)).toBe("kept")
          yield* resumed.partial.discard
        })
      ))

    live("append-after-suspend")("append after suspend fails with FileStoreError and leaves the data as it was", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const id = freshUploadId()
          const partial = yield* store.begin(id)
          yield* partial.append(bytes("kept"))
          yield* partial.suspend
          const result = yield* partial.append(bytes("lost")).pipe(
            Effect.either,
            Effect.timeoutFail({ duration: Duration.seconds(2), onTimeout: () => new Error("append after suspend never completed") })
          )
          expect(Either.isLeft(result) && result.left._tag).toBe("FileStoreError")
          const resumed = Option.getOrThrow(yield* store.resume(id))
          expect(yield* replayed(resumed)).toBe("kept")
          yield* resumed.partial.discard
        })
      ))

    it.effect("suspend after commit keeps the committed file and leaves nothing to resume", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const id = freshUploadId()
          const partial = yield* store.begin(id)
          yield* partial.append(bytes("done"))
          yield* partial.commit(file("done.txt"))
          yield* partial.suspend
          expect(text(yield* inspect.read("done.txt"))).toBe("done")
          expect(yield* inspect.partials).toBe(0)
          expect(yield* store.resume(id)).toEqual(Option.none())
        })
      ))

    it.effect("suspend after discard keeps nothing", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const id = freshUploadId()
          const partial = yield* store.begin(id)
          yield* partial.append(bytes("gone"))
          yield* partial.discard
          yield* partial.suspend
          expect(yield* inspect.partials).toBe(0)
          expect(yield* store.resume(id)).toEqual(Option.none())
        })
      ))

    it.effect("discard of a resumed partial removes its data", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const id = freshUploadId()
          const partial = yield* store.begin(id)
          yield* partial.append(bytes("drop me"))
          yield* partial.suspend
          const resumed = Option.getOrThrow(yield* store.resume(id))
          yield* resumed.partial.discard
          expect(yield* inspect.partials).toBe(0)
          expect(yield* store.resume(id)).toEqual(Option.none())
          expect(yield* store.partials).toEqual([])
        })
      ))

    // -------------------------------------------------------------------------
    // partials and remove (the expiry sweep)

    it.live("partials lists every open or suspended partial with when it was last written", () =>
      withStore((store) =>
        Effect.gen(function*() {
          expect(yield* store.partials).toEqual([])
          const [open, suspended, committed] = [freshUploadId(), freshUploadId(), freshUploadId()]
          const before = yield* Clock.currentTimeMillis
          const openPartial = yield* store.begin(open)
          yield* openPartial.append(bytes("open"))
          const suspendedPartial = yield* store.begin(suspended)
          yield* suspendedPartial.append(bytes("suspended"))
          yield* suspendedPartial.suspend
          const committedPartial = yield* store.begin(committed)
          yield* committedPartial.commit(file("committed.txt"))
          const after = yield* Clock.currentTimeMillis
          const listed = yield* store.partials
          expect(listed.map((partial) => partial.uploadId).sort()).toEqual([open, suspended].sort())
          for (const partial of listed) {
            // A second of slack either way: filesystems keep modification times with their own precision.
            expect(partial.touchedAt).toBeGreaterThanOrEqual(before - 1_000)
            expect(partial.touchedAt).toBeLessThanOrEqual(after + 1_000)
          }
          yield* openPartial.discard
          yield* store.remove(suspended)
        })
      ))

    it.live("touchedAt moves on when bytes are appended after a resume", () =>
      withStore((store) =>
        Effect.gen(function*() {
          const id = freshUploadId()
          const partial = yield* store.begin(id)
          yield* partial.append(bytes("a"))
          yield* partial.suspend
          const touchedAt = Effect.map(store.partials, (listed) => {
            expect(listed.map((partial) => partial.uploadId)).toEqual([id])
            return listed[0]!.touchedAt
          })
          const first = yield* touchedAt
          yield* Effect.sleep(Duration.millis(50))
          const resumed = Option.getOrThrow(yield* store.resume(id))
          yield* resumed.partial.append(bytes("b"))
          yield* resumed.partial.suspend
          expect(yield* touchedAt).toBeGreaterThan(first)
          yield* store.remove(id)
        })
      ))

    it.effect("remove deletes a suspended partial: it is no longer listed nor resumable", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const [removed, kept] = [freshUploadId(), freshUploadId()]
          for (const id of [removed, kept]) {
            const partial = yield* store.begin(id)
            yield* partial.append(bytes(id))
            yield* partial.suspend
          }
          yield* store.remove(removed)
          expect(yield* store.resume(removed)).toEqual(Option.none())
          expect((yield* store.partials).map((partial) => partial.uploadId)).toEqual([kept])
          expect(yield* inspect.partials).toBe(1)
          expect(yield* inspect.visible).toEqual([])
          const resumed = Option.getOrThrow(yield* store.resume(kept))
          expect(yield* replayed(resumed)).toBe(kept)
          yield* resumed.partial.discard
        })
      ))

    it.effect("remove is idempotent and succeeds for an unknown id", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const id = freshUploadId()
          yield* Effect.flatMap(store.begin(id), (partial) => partial.suspend)
          yield* store.remove(id)
          yield* store.remove(id)
          yield* store.remove(freshUploadId())
          expect(yield* inspect.partials).toBe(0)
        })
      ))

    it.effect("remove leaves committed files alone", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const id = freshUploadId()
          const partial = yield* store.begin(id)
          yield* partial.append(bytes("stays"))
          yield* partial.commit(file("stays.txt"))
          yield* store.remove(id)
          expect(text(yield* inspect.read("stays.txt"))).toBe("stays")
        })
      ))
  })
