/**
 * FileStore on the local filesystem. Each upload streams into a hidden
 * `.<uuid>.part` file in the save directory, written behind (see
 * WriteBehind: appends return once the bytes are queued, with a bounded
 * queue); commit flushes it and publishes it under its
 * final name with link(2), which fails instead of overwriting, so a name
 * collision picks `name_1.ext`, `name_2.ext`, ... and readers never see a
 * half-written file. Nothing is ever written outside the directory.
 */
import { Effect, Layer, Ref } from "effect"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { FileStore, FileStoreError, type PartialFile } from "../../application/FileStore.js"
import * as FileName from "../../domain/FileName.js"
import * as WriteBehind from "./WriteBehind.js"

/** Prefix and suffix of partial files; they are hidden and never a valid stored name. */
export const PARTIAL_SUFFIX = ".part"

const MAX_NAME_ATTEMPTS = 10_000

const errorCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined

/** Resolves `name` inside `directory`, refusing anything that would land elsewhere. */
const inside = (directory: string, name: string): string => {
  const target = path.resolve(directory, name)
  if (path.dirname(target) !== directory || name.includes("/") || name.includes("\\")) {
    throw new Error(`refusing a path outside the save directory: ${JSON.stringify(name)}`)
  }
  return target
}

/**
 * Publishes `partialPath` as `finalPath` without ever replacing an existing
 * file; false when `finalPath` is taken.
 */
const publish = async (partialPath: string, finalPath: string): Promise<boolean> => {
  try {
    await fs.link(partialPath, finalPath)
  } catch (cause) {
    const code = errorCode(cause)
    if (code === "EEXIST") return false
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw cause
    return publishWithoutLinks(partialPath, finalPath)
  }
  // The file is published; a leftover partial name is only clutter.
  await fs.unlink(partialPath).catch(() => undefined)
  return true
}

/**
 * For filesystems without hard links (some network or FUSE mounts): reserve
 * the name with an exclusive create, then rename over the reservation.
 */
const publishWithoutLinks = async (partialPath: string, finalPath: string): Promise<boolean> => {
  try {
    await (await fs.open(finalPath, "wx")).close()
  } catch (cause) {
    if (errorCode(cause) === "EEXIST") return false
    throw cause
  }
  try {
    await fs.rename(partialPath, finalPath)
    return true
  } catch (cause) {
    await fs.rm(finalPath, { force: true })
    throw cause
  }
}

/** Bytes waiting for the disk per upload before appends wait (the write-behind bound). */
const WRITE_BEHIND_BYTES = 1024 * 1024

export const make = (directory: string) =>
  Effect.gen(function*() {
    const root = path.resolve(directory)
    yield* Effect.tryPromise({
      try: () => fs.mkdir(root, { recursive: true }),
      catch: (cause) => new FileStoreError({ reason: "Open", cause })
    })

    // Uninterruptible, so an interrupted caller can never leave an opened file behind unseen.
    const begin = Effect.uninterruptible(Effect.gen(function*() {
      const partialPath = inside(root, `.${randomUUID()}${PARTIAL_SUFFIX}`)
      const writer = yield* Effect.tryPromise({
        try: () => WriteBehind.create(partialPath, { highWaterMark: WRITE_BEHIND_BYTES, mode: 0o644 }),
        catch: (cause) => new FileStoreError({ reason: "Open", cause })
      })
      const open = yield* Ref.make(true)
      const close = Ref.getAndSet(open, false)

      const discard = Effect.flatMap(close, (wasOpen) =>
        wasOpen
          ? Effect.tryPromise(async () => {
            await writer.destroy()
            await fs.rm(partialPath, { force: true })
          }).pipe(
            Effect.catchAll((error) =>
              Effect.logWarning("could not remove a partial file").pipe(
                Effect.annotateLogs({ path: partialPath, error: String(error.cause) })
              )
            )
          )
          : Effect.void)

      const commit = (file: FileName.SafeFileName) =>
        Effect.flatMap(close, (wasOpen) =>
          wasOpen
            ? Effect.tryPromise({
              try: async () => {
                await writer.finish()
                for (let attempt = 0; attempt <= MAX_NAME_ATTEMPTS; attempt++) {
                  const name = attempt === 0 ? file.name : FileName.alternativeName(file, attempt)
                  if (await publish(partialPath, inside(root, name))) return name
                }
                throw new Error(`no free name for ${file.name} after ${MAX_NAME_ATTEMPTS} attempts`)
              },
              catch: (cause) => new FileStoreError({ reason: "Commit", cause })
            }).pipe(
              Effect.tapError(() => Effect.ignore(Effect.tryPromise(() => fs.rm(partialPath, { force: true }))))
            )
            : Effect.fail(new FileStoreError({ reason: "Commit", cause: "the partial file was already closed" })))

      const partial: PartialFile = {
        append: (bytes) =>
          Effect.suspend(() => {
            const drained = writer.write(bytes)
            return drained === undefined ? Effect.void : Effect.tryPromise({
              try: () => drained,
              catch: (cause) => new FileStoreError({ reason: "Write", cause })
            })
          }).pipe(Effect.catchAllDefect((cause) => Effect.fail(new FileStoreError({ reason: "Write", cause })))),
        commit,
        discard
      }
      return partial
    }))

    return FileStore.of({ begin })
  })

/** A filesystem store rooted at `directory` (created if missing). */
export const layer = (directory: string): Layer.Layer<FileStore, FileStoreError> =>
  Layer.effect(FileStore, make(directory))
