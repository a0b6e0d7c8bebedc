/**
 * In-memory FileStore for tests and demos: partial and committed files live
 * in Refs and can be read back through `MemoryFiles`. Same rules as the
 * filesystem store (never overwrites; `name_1.ext` on collision; suspended
 * partials can be resumed). Time comes from effect's Clock.
 */
import { Chunk, Clock, Context, Effect, HashMap, Layer, Option, Ref } from "effect"
import * as FileName from "../../domain/FileName.js"
import { FileStore, FileStoreError, type PartialFile } from "../../application/ports/FileStore.js"

/** Read access to what a memory store holds, for assertions. */
export class MemoryFiles extends Context.Tag("file-receiver/MemoryFiles")<MemoryFiles, {
  /** Committed files by stored name. */
  readonly committed: Effect.Effect<HashMap.HashMap<string, Uint8Array>>
  /** How many partial files are open (begun or resumed, not yet committed, discarded or suspended). */
  readonly openPartials: Effect.Effect<number>
  /** Upload ids with partial data (open or suspended). */
  readonly partialIds: Effect.Effect<ReadonlyArray<string>>
}>() {}

interface Partial {
  readonly parts: Chunk.Chunk<Uint8Array>
  readonly touchedAt: number
  readonly open: boolean
}

const freeName = (files: HashMap.HashMap<string, Uint8Array>, file: FileName.SafeFileName): string => {
  let candidate = file.name
  for (let attempt = 1; HashMap.has(files, candidate); attempt++) {
    candidate = FileName.alternativeName(file, attempt)
  }
  return candidate
}

const held = (partial: Partial) => Chunk.reduce(partial.parts, 0, (n, bytes) => n + bytes.length)

export const layerMemory: Layer.Layer<FileStore | MemoryFiles> = Layer.effectContext(
  Effect.gen(function*() {
    const files = yield* Ref.make(HashMap.empty<string, Uint8Array>())
    const partials = yield* Ref.make(HashMap.empty<string, Partial>())

    const update = (id: string, f: (partial: Partial) => Partial) =>
      Ref.update(partials, (map) => HashMap.modify(map, id, f))
    const isOpen = (id: string) => Effect.map(Ref.get(partials), (map) => Option.exists(HashMap.get(map, id), (p) => p.open))

    const handle = (id: string): PartialFile => ({
      append: (bytes, alongside) =>
        Effect.flatMap(isOpen(id), (open) =>
          open
            ? Effect.flatMap(Clock.currentTimeMillis, (now) => {
              alongside?.()
              return update(id, (p) => ({ ...p, parts: Chunk.append(p.parts, Uint8Array.from(bytes)), touchedAt: now }))
            })
            : Effect.fail(new FileStoreError({ reason: "Write", cause: "the partial file is closed" }))),
      commit: (file, expectedBytes, onPublished) =>
        Effect.flatMap(Ref.get(partials), (map) =>
          Option.match(Option.filter(HashMap.get(map, id), (p) => p.open), {
            onNone: () => Effect.fail(new FileStoreError({ reason: "Commit", cause: "the partial file is closed" })),
            onSome: (partial) =>
              expectedBytes !== undefined && held(partial) !== expectedBytes
                ? Effect.fail(new FileStoreError({ reason: "Commit", cause: `holds ${held(partial)} bytes, not ${expectedBytes}` }))
                  .pipe(Effect.tapError(() => Ref.update(partials, HashMap.remove(id))))
                :
              Ref.modify(files, (committed) => {
                const name = freeName(committed, file)
                return [name, HashMap.set(committed, name, Buffer.concat(Chunk.toReadonlyArray(partial.parts)))]
              }).pipe(
                Effect.tap((name) => (onPublished === undefined ? Effect.void : onPublished(name))),
                Effect.zipLeft(Ref.update(partials, HashMap.remove(id)))
              )
          })),
      discard: Effect.flatMap(isOpen(id), (open) => (open ? Ref.update(partials, HashMap.remove(id)) : Effect.void)),
      suspend: update(id, (p) => ({ ...p, open: false }))
    })

    const store = FileStore.of({
      begin: (id) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Ref.update(partials, HashMap.set(id, { parts: Chunk.empty<Uint8Array>(), touchedAt: now, open: true } as Partial))).pipe(
            Effect.as(handle(id))
          ),
      resume: (id) =>
        Effect.flatMap(Ref.get(partials), (map) =>
          Option.isSome(Option.filter(HashMap.get(map, id), (p) => p.open))
            ? Effect.fail(new FileStoreError({ reason: "Busy", cause: "the upload is open in this process" }))
            : Option.match(HashMap.get(map, id), {
            onNone: () => Effect.succeedNone,
            onSome: (partial) =>
              update(id, (p) => ({ ...p, open: true })).pipe(Effect.as(Option.some({
                partial: handle(id),
                held: held(partial),
                replay: (onBytes: (bytes: Uint8Array) => Effect.Effect<void>) => Effect.forEach(partial.parts, onBytes, { discard: true })
              })))
          })),
      partials: Effect.map(Ref.get(partials), (map) =>
        Array.from(map, ([uploadId, partial]) => ({ uploadId, touchedAt: partial.touchedAt }))),
      remove: (id) => Ref.update(partials, HashMap.remove(id))
    })

    return Context.make(FileStore, store).pipe(
      Context.add(MemoryFiles, {
        committed: Ref.get(files),
        openPartials: Effect.map(Ref.get(partials), (map) => HashMap.size(HashMap.filter(map, (p) => p.open))),
        partialIds: Effect.map(Ref.get(partials), (map) => Array.from(HashMap.keys(map)))
      })
    )
  })
)
