/**
 * In-memory FileStore for tests and demos: committed files live in a Ref and
 * can be read back through `MemoryFiles`. Same naming rules as the
 * filesystem store (never overwrites; `name_1.ext` on collision).
 */
import { Chunk, Context, Effect, HashMap, Layer, Option, Ref } from "effect"
import * as FileName from "../../domain/FileName.js"
import { FileStore, FileStoreError } from "../../application/FileStore.js"

/** Read access to what a memory store holds, for assertions. */
export class MemoryFiles extends Context.Tag("file-receiver/MemoryFiles")<MemoryFiles, {
  /** Committed files by stored name. */
  readonly committed: Effect.Effect<HashMap.HashMap<string, Uint8Array>>
  /** How many partial files are open (begun, neither committed nor discarded). */
  readonly openPartials: Effect.Effect<number>
}>() {}

const concat = (parts: Chunk.Chunk<Uint8Array>): Uint8Array => Buffer.concat(Chunk.toReadonlyArray(parts))

const freeName = (files: HashMap.HashMap<string, Uint8Array>, file: FileName.SafeFileName): string => {
  let candidate = file.name
  for (let attempt = 1; HashMap.has(files, candidate); attempt++) {
    candidate = FileName.alternativeName(file, attempt)
  }
  return candidate
}

export const layerMemory: Layer.Layer<FileStore | MemoryFiles> = Layer.effectContext(
  Effect.gen(function*() {
    const files = yield* Ref.make(HashMap.empty<string, Uint8Array>())
    const partials = yield* Ref.make(0)
    const store = FileStore.of({
      begin: Effect.gen(function*() {
        const parts = yield* Ref.make<Chunk.Chunk<Uint8Array> | undefined>(Chunk.empty())
        yield* Ref.update(partials, (n) => n + 1)
        const close = Ref.getAndSet(parts, undefined).pipe(
          Effect.tap((previous) => previous === undefined ? Effect.void : Ref.update(partials, (n) => n - 1))
        )
        return {
          append: (bytes) => Ref.update(parts, (list) => list && Chunk.append(list, Uint8Array.from(bytes))),
          commit: (file) =>
            Effect.flatMap(close, (list) =>
              list === undefined
                ? Effect.fail(new FileStoreError({ reason: "Commit", cause: "the partial file was already closed" }))
                : Ref.modify(files, (map) => {
                  const name = freeName(map, file)
                  return [name, HashMap.set(map, name, concat(list))]
                })),
          discard: Effect.asVoid(close)
        }
      })
    })
    return Context.make(FileStore, store).pipe(
      Context.add(MemoryFiles, {
        committed: Ref.get(files),
        openPartials: Ref.get(partials)
      })
    )
  })
)

/** The committed file named `name`, if any. */
export const read = (name: string) => Effect.map(MemoryFiles, (m) => m.committed).pipe(
  Effect.flatten,
  Effect.map((map) => HashMap.get(map, name)),
  Effect.map(Option.getOrUndefined)
)
