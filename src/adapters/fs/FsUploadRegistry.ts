/**
 * UploadRegistry in sidecar files next to the partial files
 * (`.<upload id>.upload.json` in the save directory), so a restarted server
 * can resume what it was receiving, and answer a resume of a completed
 * upload. Claims are held in this process: one instance per directory (use
 * Redis to share a directory between instances). Records are never read or
 * written through a link planted at their names (see RegularFile): a sidecar
 * that is not a regular file is Corrupt.
 *
 * A new record is written whole and renamed into place. Its completion is
 * appended to it as a line of its own (the whole completed record), which
 * spares every upload a second new file and a rename: on some filesystems
 * creating a file is the dearest call an upload makes (docs/performance.md).
 * A read takes the last line that is a record. A completion cut short (a
 * power cut during its write, before its fsync returned) is no record, so
 * the upload reads as published but not recorded, which a resume of it
 * already recovers from (the partial name still links the stored file, see
 * FsFileStore's commit).
 */
import { Clock, Effect, Layer, Option } from "effect"
import * as fsPromises from "node:fs/promises"
import * as path from "node:path"
import { decodeRecord, type UploadRecord, UploadRegistry, UploadRegistryError } from "../../application/ports/UploadRegistry.js"
import * as InProcessClaims from "../shared/InProcessClaims.js"
import * as fs from "./FsCalls.js"
import { inside, removeFile, unlessMissing } from "./Publish.js"
import { appendRegular, errorCode, readRegular, replaceRegular, UnsafeFile } from "./RegularFile.js"

export const SIDECAR_SUFFIX = ".upload.json"

/** Age after which a temporary record file can only be a crash's leftover. */
const STALE_TEMPORARY_MILLIS = 60_000

const unavailable = (cause: unknown) => new UploadRegistryError({ reason: "Unavailable", cause })

export interface FsUploadRegistryOptions {
  /**
   * fsync a completed upload's record once it is appended (SYNC_UPLOADS), so
   * that after a power cut the completion is there, or only the unfinished
   * record is (a completion cut short decodes as nothing). The file store
   * flushes the directory after.
   */
  readonly sync: boolean
}

/**
 * The record of `uploadId` a sidecar's `text` holds: its last line that
 * decodes as a record of that upload (a completion appended after the record
 * it completes, or, when that was cut short by a power cut, the one before).
 * Corrupt when no line does.
 */
export const latestRecord = (uploadId: string, text: string): Effect.Effect<UploadRecord, UploadRegistryError> => {
  const ofThisUpload = (line: string) =>
    Effect.filterOrFail(
      decodeRecord(line),
      (record) => record.uploadId === uploadId,
      () => new UploadRegistryError({ reason: "Corrupt", cause: "a record of another upload" })
    )
  const lines = text.split("\n").filter((line) => line.trim() !== "")
  return lines.length === 0 ? decodeRecord(text) : Effect.firstSuccessOf(lines.reverse().map(ofThisUpload))
}

export const make = (directory: string, options: FsUploadRegistryOptions = { sync: true }) =>
  Effect.gen(function*() {
    const root = path.resolve(directory)
    yield* Effect.tryPromise({ try: () => fsPromises.mkdir(root, { recursive: true }), catch: unavailable })
    const sidecar = (uploadId: string) => inside(root, `.${uploadId}${SIDECAR_SUFFIX}`)
    const { claim, holds } = yield* InProcessClaims.make

    /** Writes the record of `record.uploadId` whole, in place of any earlier one (a rename). */
    const replace = (record: UploadRecord, sync = false) => {
      const target = sidecar(record.uploadId)
      return replaceRegular(`${target}.tmp`, target, JSON.stringify(record) + "\n", { mode: 0o600, sync })
    }

    /**
     * Appends the completed record as a line of its own, after a newline of
     * its own (a sidecar of an earlier version ends without one), fsynced
     * with `sync` before it counts. A missing sidecar, or anything but a
     * regular file at its name (a link, planted), is written whole and renamed
     * into place instead: never written through, never created in place.
     */
    const complete = (record: UploadRecord) =>
      Effect.tryPromise({
        try: () =>
          appendRegular(sidecar(record.uploadId), `\n${JSON.stringify(record)}\n`, { sync: options.sync, create: false }).catch(
            (cause: unknown) => cause instanceof UnsafeFile || errorCode(cause) === "ENOENT" ? replace(record, options.sync) : Promise.reject(cause)
          ),
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
            : Effect.map(latestRecord(uploadId, text), Option.some))
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

    const create = (record: UploadRecord) => Effect.tryPromise({ try: () => replace(record), catch: unavailable })

    return UploadRegistry.of({ create, get, complete, list, remove, claim, holds })
  })

/** A registry in `directory` (the save directory). */
export const layer = (directory: string, options?: FsUploadRegistryOptions): Layer.Layer<UploadRegistry, UploadRegistryError> =>
  Layer.effect(UploadRegistry, make(directory, options))
