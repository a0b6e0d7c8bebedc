/**
 * UploadRegistry in sidecar files next to the partial files
 * (`.<upload id>.upload.json` in the save directory), so a restarted server
 * can resume what it was receiving, and answer a resume of a completed
 * upload. Claims are held in this process: one instance per directory (use
 * Redis to share a directory between instances). Records are never read or
 * written through a link planted at their names (see RegularFile): a sidecar
 * that is not a regular file is Corrupt.
 */
import { Clock, Effect, Layer, Option } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { decodeRecord, type UploadRecord, UploadRegistry, UploadRegistryError } from "../../application/ports/UploadRegistry.js"
import * as InProcessClaims from "../shared/InProcessClaims.js"
import { inside, removeFile, unlessMissing } from "./Publish.js"
import { readRegular, replaceRegular, UnsafeFile } from "./RegularFile.js"

export const SIDECAR_SUFFIX = ".upload.json"

/** Age after which a temporary record file can only be a crash's leftover. */
const STALE_TEMPORARY_MILLIS = 60_000

const unavailable = (cause: unknown) => new UploadRegistryError({ reason: "Unavailable", cause })

export interface FsUploadRegistryOptions {
  /**
   * fsync a completed upload's record before it replaces the unfinished one
   * (SYNC_UPLOADS), so that after a power cut it is there or the old one is:
   * never an empty file. The file store flushes the directory after.
   */
  readonly sync: boolean
}

export const make = (directory: string, options: FsUploadRegistryOptions = { sync: true }) =>
  Effect.gen(function*() {
    const root = path.resolve(directory)
    yield* Effect.tryPromise({ try: () => fs.mkdir(root, { recursive: true }), catch: unavailable })
    const sidecar = (uploadId: string) => inside(root, `.${uploadId}${SIDECAR_SUFFIX}`)
    const { claim, holds } = yield* InProcessClaims.make

    /** Writes the record of `record.uploadId` whole, in place of any earlier one (a rename). */
    const write = (record: UploadRecord, sync = false) =>
      Effect.tryPromise({
        try: async () => {
          const target = sidecar(record.uploadId)
          await replaceRegular(`${target}.tmp`, target, JSON.stringify(record), { mode: 0o600, sync })
        },
        catch: unavailable
      })

    const get = (uploadId: string) =>
      Effect.tryPromise({
        try: () => unlessMissing(readRegular(sidecar(uploadId))),
        // A link, a FIFO or a directory at a record's name holds no record.
        catch: (cause) => cause instanceof UnsafeFile ? new UploadRegistryError({ reason: "Corrupt", cause }) : unavailable(cause)
      }).pipe(
        Effect.flatMap((text) =>
          text === undefined
            ? Effect.succeedNone
            : Effect.map(decodeRecord(text), Option.some))
      )

    const list = Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.tryPromise({
      try: async () => {
        const names = await fs.readdir(root)
        // A crash in `create` can leave a temporary file behind: it is never a record, so it goes once it is
        // stale (a fresh one belongs to a `create` in progress, which renames it a moment later).
        await Promise.all(names.filter((name) => name.endsWith(`${SIDECAR_SUFFIX}.tmp`)).map(async (name) => {
          const stats = await unlessMissing(fs.lstat(path.join(root, name)))
          if (stats !== undefined && stats.mtimeMs < now - STALE_TEMPORARY_MILLIS) await removeFile(path.join(root, name))
        }))
        return names
          .filter((name) => name.startsWith(".") && name.endsWith(SIDECAR_SUFFIX))
          .map((name) => name.slice(1, -SIDECAR_SUFFIX.length))
      },
      catch: unavailable
    })).pipe(
      Effect.flatMap((ids) => Effect.forEach(ids, (id) => Effect.option(get(id)), { concurrency: 8 })),
      Effect.map((found) => found.flatMap((record) => (Option.isSome(record) && Option.isSome(record.value) ? [record.value.value] : [])))
    )

    const remove = (uploadId: string) =>
      Effect.tryPromise({ try: () => removeFile(sidecar(uploadId)), catch: unavailable })

    return UploadRegistry.of({ create: (record) => write(record), get, complete: (record) => write(record, options.sync), list, remove, claim, holds })
  })

/** A registry in `directory` (the save directory). */
export const layer = (directory: string, options?: FsUploadRegistryOptions): Layer.Layer<UploadRegistry, UploadRegistryError> =>
  Layer.effect(UploadRegistry, make(directory, options))
