/**
 * FileStore on S3 or any S3-compatible server (MinIO, s3rver, ...), for
 * instances that share one bucket instead of one disk.
 *
 * Keys, under the configured prefix:
 * - `<name>`: published files. Names are chosen at commit, exactly as the
 *   filesystem store does (`report.pdf`, `report_1.pdf`, ...).
 * - `.partial/<upload id>`: a suspended upload's bytes, as one readable
 *   object, so any instance can resume it and replay them into the digest.
 * - `.partial/<upload id>.json`: when that upload last received bytes.
 *
 * While a connection writes, its bytes stream into a multipart upload on the
 * `.partial/` key (see S3Staging; PartWriter: bounded memory, backpressure). A file
 * smaller than one part is never a multipart upload: commit writes it with
 * one PutObject. On commit a multipart upload is completed and copied
 * server-side under the free name (S3 has no rename, and the name can only be
 * chosen safely at the end); a file larger than one CopyObject may copy (5
 * GiB) is copied in parts instead (S3LargeCopy). S3Commit says what a failure
 * there does to the upload. On suspend it is completed as the `.partial/`
 * object; a resume streams that object back once, into the client's digest
 * and into a new multipart upload (S3 cannot append to an object, and
 * s3rver has no UploadPartCopy). A suspend that fails once parts have gone
 * out leaves them to S3Stranded, which completes them at the next resume.
 *
 * Never publishing twice: each published object carries the upload's log
 * reference as metadata, so a commit after a crash that came between
 * publishing and recording the completion finds the object it published.
 *
 * Never overwriting: a name is taken only after HeadObject finds it free,
 * names being published in this process are reserved, and writes carry
 * `If-None-Match: *`, which AWS S3 and MinIO enforce. A server that ignores
 * it (s3rver) leaves one race: two instances publishing the same name within
 * the same few milliseconds.
 */
import { Clock, Context, Effect, Layer, Option, Runtime } from "effect"
import { logReference } from "../../application/uploads/Uploads.js"
import { FileStore, FileStoreError, type PartialFile, type StoredPartial } from "../../application/ports/FileStore.js"
import { StorageProbe } from "../../application/ports/Readiness.js"
import * as FileName from "../../domain/FileName.js"
import * as PartWriter from "./PartWriter.js"
import * as S3Bucket from "./S3Bucket.js"
import * as S3Commit from "./S3Commit.js"
import * as S3Publish from "./S3Publish.js"
import * as S3Staging from "./S3Staging.js"
import { dataKey } from "./S3Staging.js"
import * as S3Stranded from "./S3Stranded.js"

export { PARTIAL_FOLDER } from "./S3Staging.js"

/** The bucket the store writes to; its layer owns the client. */
export class S3Storage extends Context.Tag("file-receiver/S3Storage")<S3Storage, S3Bucket.S3Bucket>() {}

const failWith = (reason: FileStoreError["reason"]) => (cause: unknown) => new FileStoreError({ reason, cause })

/** What a log line says about a failed upload: its reference, never its id (a capability). */
const annotations = (uploadId: string, cause: unknown) => {
  const reference = logReference(uploadId)
  return { upload: reference, error: String(cause).split(uploadId).join(reference) }
}

/** Parts of one upload sent at once when S3_PART_CONCURRENCY is not set. */
export const DEFAULT_PART_CONCURRENCY = 4

/** Takes bytes read back from a `.partial/` object; the next are read once a returned promise settles. */
type FeedBytes = (bytes: Uint8Array) => void | Promise<void>

export const make = Effect.gen(function*() {
  const bucket = yield* S3Storage
  const runPromise = Runtime.runPromise(yield* Effect.runtime<never>())
  const partSize = bucket.settings.partSize
  const partConcurrency = bucket.settings.partConcurrency ?? DEFAULT_PART_CONCURRENCY
  const singleCopyLimit = bucket.settings.singleCopyLimit ?? S3Bucket.MAX_COPY_SIZE
  /** Uploads open in this process, with when they last received bytes. */
  const open = new Map<string, number>()

  const logFailure: S3Stranded.LogFailure = (uploadId, what) => (cause) =>
    Effect.logWarning(`could not ${what} a partial upload on S3`).pipe(Effect.annotateLogs(annotations(uploadId, cause)))

  const publish = S3Publish.make(bucket)
  const stranded = S3Stranded.make(bucket, logFailure)
  const removeStaged = (uploadId: string) => S3Staging.remove(bucket, uploadId)

  /**
   * One open upload. `resumedFrom` is the size of the `.partial/` object it
   * continues: those bytes are fed into the writer once (by `replay`, or
   * before the first append, commit or suspend), so the new multipart
   * upload holds the whole file.
   */
  const handle = (
    uploadId: string,
    resumedFrom: number | undefined,
    /** The `.partial/` object is the whole upload: the replay only feeds the digest (no byte is sent again). */
    whole = false
  ): { partial: PartialFile; replay: (onBytes: FeedBytes) => Promise<void> } => {
    const writer = PartWriter.make({
      create: () => bucket.createMultipart(dataKey(uploadId)),
      uploadPart: (multipartId, partNumber, body) => bucket.uploadPart(dataKey(uploadId), multipartId, partNumber, body)
    }, partSize, partConcurrency)
    let isOpen = true
    /** When this upload last received bytes (or was opened). */
    let touchedAt = open.get(uploadId) ?? 0
    let restored: Promise<void> | undefined = resumedFrom === undefined || resumedFrom === 0 ? Promise.resolve() : undefined
    /** Whether the resumed bytes are in the writer (always, for a new upload): appends then skip a promise. */
    let restoredDone = restored !== undefined
    /** Whether bytes came since the upload was opened (or resumed). */
    let appended = false

    const feed = async (length: number, onBytes: FeedBytes, intoWriter: boolean) => {
      if (length === 0) return
      const body = await bucket.read(dataKey(uploadId), length)
      if (body === undefined) throw new Error("the partial upload is gone")
      let fed = 0
      for await (const bytes of body as AsyncIterable<Buffer>) {
        await onBytes(bytes)
        fed += bytes.length
        if (intoWriter) await writer.write(bytes)
      }
      if (fed !== length) throw new Error(`read back ${fed} of ${length} held bytes`)
    }
    const restore = (onBytes: FeedBytes = () => {}) =>
      (restored ??= feed(resumedFrom ?? 0, onBytes, true).then(() => void (restoredDone = true)))
    const close = Effect.sync(() => {
      const wasOpen = isOpen
      isOpen = false
      if (wasOpen) open.delete(uploadId)
      return wasOpen
    })
    const whenOpen = <A, E>(effect: Effect.Effect<A, E>, otherwise: Effect.Effect<A, E>) =>
      Effect.flatMap(close, (wasOpen) => (wasOpen ? effect : otherwise))
    const destroy = Effect.promise(() => writer.destroy()).pipe(
      Effect.flatMap((multipartId) => stranded.abort(uploadId, multipartId)),
      Effect.zipRight(Effect.tryPromise(() => removeStaged(uploadId)).pipe(Effect.catchAll((error) => logFailure(uploadId, "remove")(error.cause))))
    )

    const append = (bytes: Uint8Array, alongside?: () => void) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (!isOpen) return Effect.fail(new FileStoreError({ reason: "Write", cause: "the partial upload is closed" }))
        // Before the part writer copies (and may free) them.
        alongside?.()
        touchedAt = now
        if (bytes.byteLength > 0) appended = true
        open.set(uploadId, now)
        if (!restoredDone) return Effect.tryPromise({ try: () => restore().then(() => writer.write(bytes)), catch: failWith("Write") })
        return Effect.try({ try: () => writer.write(bytes), catch: failWith("Write") }).pipe(
          Effect.flatMap((full) => (full === undefined ? Effect.void : Effect.tryPromise({ try: () => full, catch: failWith("Write") })))
        )
      })

    /**
     * Every byte into S3: the multipart upload's last part, or the whole small file in memory. A part that did
     * not get there (S3 out of reach, say) is a failed write: the parts S3 holds are kept for a resume, as a
     * suspend keeps them, and the upload is suspended rather than lost.
     */
    const finishWrites = Effect.tryPromise({
      try: async () => {
        await restore()
        return writer.finish()
      },
      catch: failWith("Write")
    }).pipe(Effect.tapError(() => stranded.keep(uploadId, writer, resumedFrom, touchedAt)))

    const { publishFinished, publishAsStaged } = S3Commit.make({
      bucket,
      uploadId,
      writer,
      resumedFrom,
      touchedAt: () => touchedAt,
      destroy,
      publish,
      stranded,
      logFailure,
      singleCopyLimit,
      partConcurrency
    })

    const commit = (file: FileName.SafeFileName, expectedBytes?: number, onPublished?: (storedName: string) => Effect.Effect<boolean>) =>
      whenOpen(
        (resumedFrom !== undefined && resumedFrom > 0 && !appended
          ? publishAsStaged(file, resumedFrom, expectedBytes)
          : Effect.flatMap(finishWrites, (finished) => publishFinished(finished, file, expectedBytes))).pipe(
          Effect.tap(({ name }) => (onPublished === undefined ? Effect.void : onPublished(name))),
          // Once the file is published the commit has succeeded: a staged copy left behind is only logged
          // (the expiry sweep removes it), never reported to the client as a failed upload.
          Effect.tap(({ staged }) =>
            staged ? Effect.tryPromise(() => removeStaged(uploadId)).pipe(Effect.catchAll((error) => logFailure(uploadId, "remove the staged copy of")(error.cause))) : Effect.void
          ),
          Effect.map(({ name }) => name)
        ),
        Effect.fail(new FileStoreError({ reason: "Commit", cause: "the partial upload was already closed" }))
      )

    const suspend = whenOpen<void, never>(
      Effect.suspend(() =>
        // A resumed upload that received nothing keeps its `.partial/` object as it is.
        restored === undefined ? Effect.void : Effect.tryPromise(async () => {
          // A resume whose read-back failed holds only part of the bytes: the `.partial/` object stays as it was.
          await restored
          const finished = await writer.finish()
          if (finished._tag === "Small") await bucket.put(dataKey(uploadId), finished.body)
          else await bucket.completeMultipart(dataKey(uploadId), finished.uploadId, finished.parts)
          await S3Staging.writeTouchedAt(bucket, uploadId, touchedAt)
        }).pipe(
          Effect.catchAll((error) =>
            Effect.zipRight(logFailure(uploadId, "keep")(error.cause), stranded.keep(uploadId, writer, resumedFrom, touchedAt))
          )
        )),
      Effect.void
    )

    return {
      partial: { append, commit, discard: whenOpen(destroy, Effect.void), suspend },
      replay: (onBytes) => (restored === undefined && !whole ? restore(onBytes) : feed(resumedFrom ?? 0, onBytes, false))
    }
  }

  const begin = (uploadId: string) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.try({
        try: () => {
          if (!/^[\w-]+$/.test(uploadId)) throw new Error("an upload id is letters, digits, _ and -")
          open.set(uploadId, now)
          return handle(uploadId, undefined).partial
        },
        catch: failWith("Open")
      }))

  const resume = (uploadId: string, size?: number) =>
    open.has(uploadId) ? Effect.fail(new FileStoreError({ reason: "Busy", cause: "the upload is open in this process" })) : stranded.complete(uploadId).pipe(
      Effect.zipRight(Effect.tryPromise({ try: () => bucket.size(dataKey(uploadId)), catch: failWith("Open") })),
      Effect.flatMap((held) =>
        held === undefined
          ? Effect.succeedNone
          : open.has(uploadId)
          ? Effect.fail(new FileStoreError({ reason: "Busy", cause: "the upload is open in this process" }))
          : Effect.flatMap(Clock.currentTimeMillis, (now) => {
          open.set(uploadId, now)
          const { partial, replay } = handle(uploadId, held, held === size)
          return Effect.succeed(Option.some({
            partial,
            held,
            replay: (onBytes: (bytes: Uint8Array) => Effect.Effect<void>) =>
              Effect.tryPromise({ try: () => replay((bytes) => runPromise(onBytes(bytes))), catch: failWith("Open") })
          }))
        })
      )
    )

  const touchedAt = (uploadId: string, lastModified: number) =>
    Effect.tryPromise(() => S3Staging.readTouchedAt(bucket, uploadId, lastModified)).pipe(Effect.orElseSucceed(() => lastModified))

  const partials = Effect.tryPromise({ try: () => bucket.list(S3Staging.PARTIAL_FOLDER), catch: failWith("Open") }).pipe(
    Effect.flatMap((objects) =>
      Effect.forEach(
        objects.filter((object) => !object.key.endsWith(S3Staging.TOUCH_SUFFIX)),
        (object) => {
          const uploadId = object.key.slice(S3Staging.PARTIAL_FOLDER.length)
          return Effect.map(touchedAt(uploadId, object.lastModified), (at): StoredPartial => ({ uploadId, touchedAt: at }))
        },
        { concurrency: 8 }
      )
    ),
    Effect.map((stored) => {
      const byId = new Map(stored.map((partial) => [partial.uploadId, partial.touchedAt]))
      for (const [uploadId, at] of open) byId.set(uploadId, Math.max(at, byId.get(uploadId) ?? 0))
      for (const [uploadId, at] of stranded.touched()) byId.set(uploadId, Math.max(at, byId.get(uploadId) ?? 0))
      return Array.from(byId, ([uploadId, at]): StoredPartial => ({ uploadId, touchedAt: at }))
    })
  )

  const remove = (uploadId: string) =>
    stranded.drop(uploadId).pipe(Effect.zipRight(Effect.tryPromise({ try: () => removeStaged(uploadId), catch: failWith("Remove") })))

  return FileStore.of({ begin, resume, partials, remove })
})

/** The bucket's client, destroyed with the layer. Fails at start-up when the bucket does not answer. */
export const layerBucket = (settings: S3Bucket.S3Settings): Layer.Layer<S3Storage, FileStoreError> =>
  Layer.scoped(
    S3Storage,
    Effect.acquireRelease(Effect.sync(() => S3Bucket.make(settings)), (bucket) => Effect.sync(() => bucket.client.destroy())).pipe(
      Effect.tap((bucket) =>
        Effect.tryPromise({
          try: () => bucket.headBucket(),
          catch: (cause) => new FileStoreError({ reason: "Open", cause: `S3 bucket ${settings.bucket} does not answer: ${describe(cause)}` })
        })
      )
    )
  )

const describe = (cause: unknown): string => (cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause))

/** Readiness probe: the bucket answers HeadBucket. */
export const probe: Effect.Effect<StorageProbe["Type"], never, S3Storage> = Effect.map(S3Storage, (bucket) => ({
  name: "storage",
  check: Effect.tryPromise({ try: () => bucket.headBucket(), catch: (cause) => `S3 bucket ${bucket.settings.bucket} not reachable: ${describe(cause)}` })
}))

/** The S3 store with its readiness probe, on a bucket client of its own. */
export const layer = (settings: S3Bucket.S3Settings): Layer.Layer<FileStore | StorageProbe | S3Storage, FileStoreError> =>
  Layer.mergeAll(Layer.effect(FileStore, make), Layer.effect(StorageProbe, probe)).pipe(Layer.provideMerge(layerBucket(settings)))
