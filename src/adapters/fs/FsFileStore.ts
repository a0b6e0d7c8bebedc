/**
 * FileStore on the local filesystem. Each upload streams into a hidden
 * `.<uuid>.part` file in the save directory; an append is done once the
 * operating system has its bytes (see WriteBehind), so what the store has
 * confirmed survives a crash of the process. Commit closes the file
 * (fsyncing it first when `sync` is on) and publishes it under its final
 * name with link(2), which fails instead of overwriting, so a name
 * collision picks `name_1.ext`, `name_2.ext`, ... and readers never see a
 * half-written file; with `sync`, the directory is fsynced after, so a
 * confirmed file survives a power cut. Nothing is ever written outside the
 * directory.
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

export interface FsFileStoreOptions {
  /**
   * Flush a finished file and the save directory to stable storage before
   * commit succeeds (fsync), so that a file the client was told about
   * survives a power cut, not only a crash of the process (SYNC_UPLOADS).
   */
  readonly sync: boolean
}

/**
 * The name under which the partial file `partial` (its lstat) is published in
 * `root`, if it is: a visible entry that is the same file (device and inode).
 */
const publishedAs = async (root: string, partial: { readonly dev: number; readonly ino: number }): Promise<string | undefined> => {
  for (const name of await fs.readdir(root)) {
    if (name.startsWith(".")) continue
    const stats = await unlessMissing(fs.lstat(path.join(root, name)))
    if (stats !== undefined && stats.isFile() && stats.dev === partial.dev && stats.ino === partial.ino) return name
  }
  return undefined
}

/** Flushes the directory entry changes of `directory` (a new name) to stable storage. */
const syncDirectory = async (directory: string): Promise<void> => {
  const handle = await fs.open(directory, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** What a log line says about a failed partial file: the upload's reference, never its id (a capability). */
const failureAnnotations = (uploadId: string, cause: unknown) => {
  const reference = logReference(uploadId)
  return { upload: reference, error: String(cause).split(uploadId).join(reference) }
}

export const make = (directory: string, options: FsFileStoreOptions = { sync: true }) =>
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
        append: (bytes) => Effect.tryPromise({ try: () => writer.write(bytes), catch: (cause) => new FileStoreError({ reason: "Write", cause }) }),
        commit: (name, expectedBytes, onPublished) =>
          whenOpen(
            Effect.tryPromise({
              try: async () => {
                await writer.finish({ sync: options.sync })
                const stats = await fs.lstat(file)
                if (expectedBytes !== undefined && stats.size !== expectedBytes) {
                  throw new Error(`the partial file holds ${stats.size} bytes, not the ${expectedBytes} expected`)
                }
                // Published already, by a commit a crash cut short: that name, not a second one.
                const earlier = stats.nlink > 1 ? await publishedAs(root, stats) : undefined
                if (earlier !== undefined) return earlier
                for (let attempt = 0; attempt <= MAX_NAME_ATTEMPTS; attempt++) {
                  const candidate = attempt === 0 ? name.name : FileName.alternativeName(name, attempt)
                  if (await publish(file, inside(root, candidate))) return candidate
                }
                throw new Error(`no free name for ${name.name} after ${MAX_NAME_ATTEMPTS} attempts`)
              },
              catch: (cause) => new FileStoreError({ reason: "Commit", cause })
            }).pipe(
              Effect.tapError(() => Effect.ignore(Effect.tryPromise(() => removeFile(file)))),
              // Published, whatever comes next: a failed flush of the new name is the operator's to know, not a failed upload.
              Effect.tap(() =>
                options.sync ? Effect.tryPromise(() => syncDirectory(root)).pipe(Effect.catchAll(logFailure("flush the directory of"))) : Effect.void
              ),
              // The partial name (a second link to the published file) shows a later commit what happened, until
              // `onPublished` has run.
              Effect.tap((storedName) => onPublished === undefined ? Effect.void : onPublished(storedName)),
              Effect.tap(() => Effect.tryPromise(() => removeFile(file)).pipe(Effect.catchAll(logFailure("remove"))))
            ),
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
export const layer = (directory: string, options?: FsFileStoreOptions): Layer.Layer<FileStore, FileStoreError> =>
  Layer.effect(FileStore, make(directory, options))

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
