/**
 * FileStore on the local filesystem. Each upload streams into a hidden
 * `.<upload id>.part` file in the save directory; an append is done once the
 * operating system has its bytes (see PartialWriter), so what the store has
 * confirmed survives a crash of the process. Commit closes the file
 * (fsyncing it first when `sync` is on) and publishes it under its final
 * name with link(2), which fails instead of overwriting, so a name
 * collision picks `name_1.ext`, `name_2.ext`, ... and readers never see a
 * half-written file; with `sync`, the directory is fsynced after, so a
 * confirmed file survives a power cut. Nothing is ever written outside the
 * directory: partial files are opened without following links and must be
 * regular files (see RegularFile); one that is not is treated as gone.
 */
import { type Cause, Effect, Layer, Option, Ref, Stream } from "effect"
import { constants as fsConstants, createReadStream, type ReadStream, type Stats } from "node:fs"
import * as fsPromises from "node:fs/promises"
import * as path from "node:path"
import { FileStore, FileStoreError, type PartialFile } from "../../application/ports/FileStore.js"
import * as FileName from "../../domain/FileName.js"
import { logReference } from "../../application/uploads/Uploads.js"
import type * as Readiness from "../../application/ports/Readiness.js"
import { inside, publish, removeFile, stillWritten, unlessMissing } from "./Publish.js"
import { errorCode, O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_WRONLY, type OpenedFile, openRegular, sameFile, UnsafeFile } from "./RegularFile.js"
import * as DirectorySync from "./DirectorySync.js"
import * as fs from "./FsCalls.js"
import * as PartialWriter from "./PartialWriter.js"

/** Suffix of partial files (`.<upload id>.part`): hidden, and never a valid stored name. */
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

/** Destroys `stream` and waits until it has closed its descriptor. */
const destroyed = (stream: ReadStream): Effect.Effect<void> =>
  Effect.async<void>((resume) => {
    if (stream.closed) return resume(Effect.void)
    stream.once("close", () => resume(Effect.void))
    stream.destroy()
  })

/** With `sync`, a partial file is flushed in the background every this many bytes (see PartialWriter). */
const SYNC_EVERY_BYTES = 8 * 1024 * 1024
/** How much a resume reads back at a time, into the digest. */
const REPLAY_READ_BYTES = 1024 * 1024

export const make = (directory: string, options: FsFileStoreOptions = { sync: true }) =>
  Effect.gen(function*() {
    const root = path.resolve(directory)
    yield* Effect.tryPromise({
      try: () => fsPromises.mkdir(root, { recursive: true }),
      catch: (cause) => new FileStoreError({ reason: "Open", cause })
    })
    /** The directory's fsync, one for all the commits that need it at the same time. */
    const flushDirectory = DirectorySync.make(() => syncDirectory(root))

    /** Uploads with a partial file open in this process: never handed out twice. */
    const openIds = new Set<string>()
    const partialPath = (uploadId: string) => inside(root, `.${uploadId}${PARTIAL_SUFFIX}`)

    // Uninterruptible, so an interrupted caller can never leave an opened file behind unseen.
    /**
     * Creates the partial file, or reopens it for appending without creating
     * it (failing with ENOENT when it is missing). Appends (O_APPEND) mean a
     * second writer can only make the file longer, which the size check at
     * commit catches. A partial with more than one name is reopened only
     * when every other name is a file in the directory: a crash between
     * publish's link(2) and unlink(2) leaves it so, with its stored name
     * beside it (completing such an upload again is left to the caller); a
     * hard link to a file elsewhere fails with UnsafeFile, as does anything
     * but a regular file.
     */
    const open = (uploadId: string, reopen: boolean) =>
      Effect.uninterruptible(Effect.gen(function*() {
        const file = partialPath(uploadId)
        const opened = yield* Effect.tryPromise({
          try: () =>
            reopen
              ? openRegular(file, O_WRONLY | O_APPEND, { linksWithin: root })
              : openRegular(file, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, { mode: 0o644 }),
          catch: (cause) => new FileStoreError({ reason: "Open", cause })
        })
        const writer = PartialWriter.fromHandle(opened.handle, options.sync ? { syncEveryBytes: SYNC_EVERY_BYTES } : {})
        openIds.add(uploadId)
        return { opened, partial: handle(uploadId, file, opened.stats, writer, yield* Ref.make(true), () => openIds.delete(uploadId)) }
      }))

    const handle = (
      uploadId: string,
      file: string,
      written: Stats,
      writer: PartialWriter.PartialWriter,
      isOpen: Ref.Ref<boolean>,
      onClose: () => void
    ): PartialFile => {
      // The upload counts as open in this process (see `resume`) until its file is closed, not only until closing begins.
      const whenOpen = <A, E>(effect: Effect.Effect<A, E>, otherwise: Effect.Effect<A, E>): Effect.Effect<A, E> =>
        Effect.flatMap(Ref.getAndSet(isOpen, false), (wasOpen) => (wasOpen ? Effect.ensuring(effect, Effect.sync(onClose)) : otherwise))
      const logFailure = (what: string) => (error: Cause.UnknownException): Effect.Effect<void> =>
        Effect.logWarning(`could not ${what} a partial file`).pipe(
          Effect.annotateLogs(failureAnnotations(uploadId, error.cause))
        )
      return {
        append: (bytes, alongside) => Effect.tryPromise({ try: () => writer.write(bytes, alongside), catch: (cause) => new FileStoreError({ reason: "Write", cause }) }),
        commit: (name, expectedBytes, onPublished) =>
          whenOpen(
            Effect.tryPromise({
              try: async () => {
                await writer.finish({ sync: options.sync })
                const stats = await stillWritten(file, written)
                if (expectedBytes !== undefined && stats.size !== expectedBytes) {
                  throw new Error(`the partial file holds ${stats.size} bytes, not the ${expectedBytes} expected`)
                }
                // Published already, by a commit a crash cut short: that name, not a second one.
                const earlier = stats.nlink > 1 ? await publishedAs(root, stats) : undefined
                if (earlier !== undefined) return earlier
                for (let attempt = 0; attempt <= MAX_NAME_ATTEMPTS; attempt++) {
                  const candidate = attempt === 0 ? name.name : FileName.alternativeName(name, attempt)
                  if (await publish(file, inside(root, candidate), written, attempt === 0)) return candidate
                }
                throw new Error(`no free name for ${name.name} after ${MAX_NAME_ATTEMPTS} attempts`)
              },
              catch: (cause) => new FileStoreError({ reason: "Commit", cause })
            }).pipe(
              Effect.tapError(() => Effect.ignore(Effect.tryPromise(() => removeFile(file)))),
              // The partial name (a second link to the published file) shows a later commit what happened, until
              // `onPublished` has recorded the completion; so it stays when that failed.
              Effect.flatMap((storedName) =>
                Effect.map(onPublished === undefined ? Effect.succeed(true) : onPublished(storedName), (recorded) => ({ storedName, recorded }))
              ),
              // Published, whatever comes next: a failed flush of the new name (and of a record written beside it) is
              // the operator's to know, not a failed upload.
              Effect.tap(() =>
                options.sync ? Effect.tryPromise(flushDirectory).pipe(Effect.catchAll(logFailure("flush the directory of"))) : Effect.void
              ),
              Effect.tap(({ recorded }) =>
                recorded ? Effect.tryPromise(() => removeFile(file)).pipe(Effect.catchAll(logFailure("remove"))) : Effect.void
              ),
              Effect.map(({ storedName }) => storedName)
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
        // Every byte written is the operating system's already: closing is all that is left (after a failed
        // write too, whose error the caller has been given).
        suspend: whenOpen<void, never>(Effect.promise(() => writer.destroy()), Effect.void)
      }
    }

    /** Reads the bytes held at reopening back through a descriptor of its own, once it is shown to be the file reopened. */
    const replay = (file: string, reopened: OpenedFile) => (onBytes: (bytes: Uint8Array) => Effect.Effect<void>) =>
      Effect.suspend(() => {
        const held = reopened.stats.size
        if (held === 0) return Effect.void
        const failed = (cause: unknown) => new FileStoreError({ reason: "Open", cause })
        return Effect.acquireUseRelease(
          Effect.tryPromise({
            try: async () => {
              const { handle, stats } = await openRegular(file, O_RDONLY, { linksWithin: root })
              if (!sameFile(stats, reopened.stats)) {
                await handle.close().catch(() => undefined)
                throw new UnsafeFile({ found: "another file put in place of the file reopened" })
              }
              return handle
            },
            catch: failed
          }),
          // The read stream takes the descriptor over in the same uninterruptible step that makes sure the stream is
          // destroyed (which closes it), however the read-back ends: an interruption can never leave it open.
          (handle) =>
            Effect.acquireUseRelease(
              Effect.sync(() => createReadStream(file, { fd: handle.handOver(), start: 0, end: held - 1, highWaterMark: REPLAY_READ_BYTES })),
              (stream) => Stream.runForEach(Stream.fromAsyncIterable(stream, failed), (bytes) => onBytes(bytes as Buffer)),
              destroyed
            ),
          // Closes it when the stream never took it over; nothing once it has.
          (handle) => Effect.promise(() => handle.close().catch(() => undefined))
        )
      })

    /**
     * None for a reopening that found no partial: reopening never creates, so a
     * partial removed since it was suspended is gone, not restarted empty; and
     * anything planted at its name (a link, a FIFO, a directory) is never
     * followed, so the upload is gone too (logged: someone put it there).
     */
    const gone = (uploadId: string) => (error: FileStoreError) => {
      if (errorCode(error.cause) === "ENOENT") return Effect.succeedNone
      if (!(error.cause instanceof UnsafeFile)) return Effect.fail(error)
      return Effect.as(
        Effect.logWarning("refusing to resume an upload: its partial file is not a regular file of the save directory").pipe(
          Effect.annotateLogs({ upload: logReference(uploadId), found: error.cause.found })
        ),
        Option.none()
      )
    }

    const resume = (uploadId: string) =>
      openIds.has(uploadId) ? Effect.fail(new FileStoreError({ reason: "Busy", cause: "the upload is open in this process" })) : open(uploadId, true).pipe(
        Effect.map(({ opened, partial }) =>
          Option.some({ partial, held: opened.stats.size, replay: replay(partialPath(uploadId), opened) })
        ),
        Effect.catchAll(gone(uploadId))
      )

    const partials = Effect.tryPromise({
      try: async () => {
        const names = (await fs.readdir(root)).filter((name) => name.startsWith(".") && name.endsWith(PARTIAL_SUFFIX))
        const found = await Promise.all(names.map(async (name) => {
          // lstat: a link planted at a partial's name is listed by its own time, so expiry unlinks it (never its target).
          // A directory is nobody's partial, and remove could not unlink it.
          const stats = await fs.lstat(path.join(root, name)).catch(() => undefined)
          return stats && !stats.isDirectory() ? { uploadId: name.slice(1, -PARTIAL_SUFFIX.length), touchedAt: stats.mtimeMs } : undefined
        }))
        return found.filter((partial) => partial !== undefined)
      },
      catch: (cause) => new FileStoreError({ reason: "Open", cause })
    })

    const remove = (uploadId: string) =>
      Effect.tryPromise({ try: () => removeFile(partialPath(uploadId)), catch: (cause) => new FileStoreError({ reason: "Remove", cause }) })

    return FileStore.of({
      begin: (uploadId) => Effect.map(open(uploadId, false), ({ partial }) => partial),
      resume,
      partials,
      remove
    })
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
      await fsPromises.writeFile(file, "", { flag: "wx" }) // never through a link planted at the name
      await removeFile(file)
    },
    catch: (cause) => `save directory not writable: ${cause instanceof Error ? cause.message : String(cause)}`
  })
})
