/**
 * The FileStore contract, run against every adapter (like tus-node-server's
 * shared store tests). A harness gives a fresh store per test and a way to
 * look at what it holds.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Either } from "effect"
import type { Layer } from "effect"
import { FileStore } from "../../src/application/FileStore.js"
import * as FileName from "../../src/domain/FileName.js"

/** What a test can see of a store's contents. */
export class StoreInspector extends Context.Tag("test/StoreInspector")<StoreInspector, {
  /** Names of the visible (committed) files, sorted. */
  readonly visible: Effect.Effect<ReadonlyArray<string>>
  /** Content of a committed file. */
  readonly read: (name: string) => Effect.Effect<Uint8Array | undefined>
  /** How many partial (uncommitted) files exist. */
  readonly partials: Effect.Effect<number>
}>() {}

/** A fresh, empty store for each test, with its inspector. */
export type FileStoreHarness = Layer.Layer<FileStore | StoreInspector>

const file = (name: string) => Either.getOrThrow(FileName.validate(name, ["txt", "pdf", "jpg"]))
const bytes = (text: string) => new TextEncoder().encode(text)
const text = (data: Uint8Array | undefined) => (data === undefined ? undefined : new TextDecoder().decode(data))

export const fileStoreContract = (adapter: string, harness: FileStoreHarness) =>
  describe(`FileStore contract: ${adapter}`, () => {
    const withStore = <A, E>(body: (store: FileStore["Type"], inspect: StoreInspector["Type"]) => Effect.Effect<A, E>) =>
      Effect.gen(function*() {
        const store = yield* FileStore
        const inspect = yield* StoreInspector
        return yield* body(store, inspect)
      }).pipe(Effect.provide(harness))

    it.effect("commit stores every appended byte, in order, under the requested name", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const partial = yield* store.begin
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
          const partial = yield* store.begin
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
            const partial = yield* store.begin
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
                const partial = yield* store.begin
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
          const partial = yield* store.begin
          expect(yield* partial.commit(file("empty.txt"))).toBe("empty.txt")
          expect((yield* inspect.read("empty.txt"))?.length).toBe(0)
        })
      ))

    it.effect("discard removes the partial data and leaves nothing visible", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const partial = yield* store.begin
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
          const kept = yield* store.begin
          yield* kept.append(bytes("keep"))
          yield* kept.commit(file("keep.txt"))
          yield* kept.discard
          expect(text(yield* inspect.read("keep.txt"))).toBe("keep")

          const dropped = yield* store.begin
          yield* dropped.discard
          const error = yield* Effect.flip(dropped.commit(file("dropped.txt")))
          expect(error._tag).toBe("FileStoreError")
          expect(yield* inspect.visible).toEqual(["keep.txt"])
        })
      ))

    it.effect("the original spelling of the name is kept", () =>
      withStore((store, inspect) =>
        Effect.gen(function*() {
          const partial = yield* store.begin
          expect(yield* partial.commit(file("Photo.JPG"))).toBe("Photo.JPG")
          expect(yield* inspect.visible).toEqual(["Photo.JPG"])
        })
      ))
  })
