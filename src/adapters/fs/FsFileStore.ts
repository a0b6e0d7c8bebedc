/**
 * FileStore on the local filesystem. Each upload streams into a hidden
 * `.<uuid>.part` file in the save directory, written behind (see
 * WriteBehind: appends return once the bytes are queued, with a bounded
 * queue); commit flushes it and publishes it under its
 * final name with link(2), which fails instead of overwriting, so a name
 * collision picks `name_1.ext`, `name_2.ext`, ... and readers never see a
 * half-written file. Nothing is ever written outside the directory.
 */
import { type Cause, Effect, Layer, Option, Ref } from "effect"
import { constants as fsConstants, createReadStream } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { FileStore, FileStoreError, type PartialFile } from "../../application/FileStore.js"
import * as FileName from "../../domain/FileName.js"
import { logReference } from "../../application/ActiveUpload.js"
import type * as Readiness from "../../application/Readiness.js"
import { inside, publish, removeFile, unlessMissing } from "./Publish.js"
import * as WriteBehind from "./WriteBehind.js"

/** Prefix and suffix of partial files; they are hidden and never a valid stored name. */
export const PARTIAL_SUFFIX = ".part"

const MAX_NAME_ATTEMPTS = 10_000

/** Bytes waiting for the disk per upload before appends wait (the write-behind bound). */
const WRITE_BEHIND_BYTES = 1024 * 1024

/** What a log line says about a failed partial file: the upload's reference, never its id (a capability). */
const failureAnnotations = (uploadId: string, cause: unknown) => {
  const reference = logReference(uploadId)
  return { upload: reference, error: String(cause).split(uploadId).join(reference) }
}

export const make = (directory: string) =>
  Effect.gen(function*() {
    const root = path.resolve(directory)
    yield* Effect.tryPromise({
      try: () => fs.mkdir(root, { recursive: true }),
      catch: (cause) => new FileStoreError({ reason: "Open", cause })
    })

    /** Uploads with a partial file open in this process: never handed out twice. */
    const openIds = new Set<string>()
    const partialPath = (uploadId: string) => inside(root, `.${uploadId}${PARTIAL_SUFFIX}`)

    // Uninterruptible, so an interrupted caller can never leave an opened file behind unseen.
    /**
     * Creates the partial file, or reopens it for appending without creating
     * it. Appends (O_APPEND) mean a second writer can only make the file
     * longer, which the size check at commit catches.
     */
    const open = (uploadId: string, reopen = false) =>
      Effect.uninterruptible(Effect.gen(function*() {
        const file = partialPath(uploadId)
        const writer = yield* Effect.tryPromise({
          try: () =>
            WriteBehind.create(file, {
              highWaterMark: WRITE_BEHIND_BYTES,
              mode: 0o644,
              flags: reopen ? fsConstants.O_WRONLY | fsConstants.O_APPEND : "wx"
            }),
          catch: (cause) => new FileStoreError({ reason: "Open", cause })
        })
        openIds.add(uploadId)
        return handle(uploadId, file, writer, yield* Ref.make(true), () => openIds.delete(uploadId))
      }))

    const handle = (
      uploadId: string,
      file: string,
      writer: WriteBehind.WriteBehind,
      isOpen: Ref.Ref<boolean>,
      onClose: () => void
    ): PartialFile => {
      const close = Ref.getAndSet(isOpen, false).pipe(Effect.tap((wasOpen) => wasOpen && onClose()))
      const whenOpen = <A, E>(effect: Effect.Effect<A, E>, otherwise: Effect.Effect<A, E>): Effect.Effect<A, E> =>
        Effect.flatMap(close, (wasOpen) => (wasOpen ? effect : otherwise))
      const logFailure = (what: string) => (error: Cause.UnknownException): Effect.Effect<void> =>
        Effect.logWarning(`could not ${what} a partial file`).pipe(
          Effect.annotateLogs(failureAnnotations(uploadId, error.cause))
        )
      return {
        append: (bytes) =>
          Effect.try({
            try: () => writer.write(bytes),
            catch: (cause) => new FileStoreError({ reason: "Write", cause })
          }).pipe(
            Effect.flatMap((drained) =>
              drained === undefined
                ? Effect.void
                : Effect.tryPromise({ try: () => drained, catch: (cause) => new FileStoreError({ reason: "Write", cause }) })
            )
          ),
        commit: (name, expectedBytes) =>
          whenOpen(
            Effect.tryPromise({
              try: async () => {
                await writer.finish()
                const stored = (await fs.stat(file)).size
                if (expectedBytes !== undefined && stored !== expectedBytes) {
                  throw new Error(`the partial file holds ${stored} bytes, not the ${expectedBytes} expected`)
                }
                for (let attempt = 0; attempt <= MAX_NAME_ATTEMPTS; attempt++) {
                  const candidate = attempt === 0 ? name.name : FileName.alternativeName(name, attempt)
                  if (await publish(file, inside(root, candidate))) return candidate
                }
                throw new Error(`no free name for ${name.name} after ${MAX_NAME_ATTEMPTS} attempts`)
              },
              catch: (cause) => new FileStoreError({ reason: "Commit", cause })
            }).pipe(Effect.tapError(() => Effect.ignore(Effect.tryPromise(() => removeFile(file))))),
            Effect.failSync(() => new FileStoreError({ reason: "Commit", cause: "the partial file was already closed" }))
          ),
        discard: whenOpen<void, never>(
          Effect.tryPromise(async () => {
            await writer.destroy()
            await removeFile(file)
          }).pipe(Effect.catchAll((error) => logFailure("remove")(error))),
          Effect.void
        ),
        suspend: whenOpen<void, never>(Effect.tryPromise(() => writer.finish()).pipe(Effect.catchAll((error) => logFailure("flush")(error))), Effect.void)
      }
    }

    const resume = (uploadId: string) =>
      openIds.has(uploadId) ? Effect.succeedNone : Effect.tryPromise({
        try: () => unlessMissing(fs.stat(partialPath(uploadId))),
        catch: (cause) => new FileStoreError({ reason: "Open", cause })
      }).pipe(
        Effect.flatMap((stats) =>
          // Reopening never creates: a partial removed since the stat fails to open instead of restarting empty.
          stats === undefined ? Effect.succeedNone : Effect.map(open(uploadId, true), (partial) =>
            Option.some({
              partial,
              held: stats.size,
              replay: (onBytes: (bytes: Uint8Array) => void) =>
                Effect.tryPromise({
                  try: async () => {
                    if (stats.size === 0) return
                    for await (const bytes of createReadStream(partialPath(uploadId), { end: stats.size - 1 })) onBytes(bytes as Buffer)
                  },
                  catch: (cause) => new FileStoreError({ reason: "Open", cause })
                })
            }))
        )
      )

    const partials = Effect.tryPromise({
      try: async () => {
        const names = (await fs.readdir(root)).filter((name) => name.startsWith(".") && name.endsWith(PARTIAL_SUFFIX))
        const found = await Promise.all(names.map(async (name) => {
          const stats = await fs.stat(path.join(root, name)).catch(() => undefined)
          return stats && { uploadId: name.slice(1, -PARTIAL_SUFFIX.length), touchedAt: stats.mtimeMs }
        }))
        return found.filter((partial) => partial !== undefined)
      },
      catch: (cause) => new FileStoreError({ reason: "Open", cause })
    })

    const remove = (uploadId: string) =>
      Effect.tryPromise({ try: () => removeFile(partialPath(uploadId)), catch: (cause) => new FileStoreError({ reason: "Remove", cause }) })

    return FileStore.of({ begin: (uploadId) => open(uploadId), resume, partials, remove })
  })

/** A filesystem store rooted at `directory` (created if missing). */
export const layer = (directory: string): Layer.Layer<FileStore, FileStoreError> =>
  Layer.effect(FileStore, make(directory))

/** Readiness probe: the save directory accepts a new file (created and removed again). */
export const probe = (directory: string): Readiness.Probe => ({
  name: "storage",
  check: Effect.tryPromise({
    try: async () => {
      const file = path.join(path.resolve(directory), `.readyz-${process.pid}-${Date.now()}`)
      await fs.writeFile(file, "")
      await removeFile(file)
    },
    catch: (cause) => `save directory not writable: ${cause instanceof Error ? cause.message : String(cause)}`
  })
})
