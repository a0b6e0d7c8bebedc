/**
 * Copying an object larger than one CopyObject may copy (5 GiB on S3) to a
 * new key inside the bucket, without ever replacing an object there: a
 * multipart upload on the new key whose parts are ranges of the source
 * (UploadPartCopy, server-side), completed with `If-None-Match: *`.
 *
 * A server that does not implement UploadPartCopy (s3rver) gets the same
 * multipart upload with the source's bytes streamed through this process
 * instead (GetObject into a PartWriter: memory stays at about `concurrency +
 * 1` parts). Either way the new key shows nothing until the upload is
 * completed, and an upload that fails or loses its condition is aborted.
 * A process that dies in between leaves an incomplete multipart upload on the
 * new key, which holds storage until a bucket lifecycle rule
 * (AbortIncompleteMultipartUpload) removes it; the staged object stays, so
 * the upload itself is resumed and published again.
 */
import * as PartWriter from "./PartWriter.js"
import * as S3Bucket from "./S3Bucket.js"

/** S3's largest number of parts in one multipart upload. */
const MAX_PARTS = 10_000
/** The range each copied part takes, unless the object needs larger ones to fit in MAX_PARTS. */
const PREFERRED_COPY_PART = 1024 * 1024 * 1024

export interface CopyRange {
  readonly partNumber: number
  /** First and last byte, inclusive (as `x-amz-copy-source-range` says them). */
  readonly first: number
  readonly last: number
}

/**
 * The parts of a copy of `size` bytes: ranges of `min(limit, 1 GiB)` bytes (or
 * more when 10,000 of them would not hold the object), each at least S3's 5 MiB
 * minimum and at most `limit`, the largest single copy.
 */
export const copyRanges = (size: number, limit: number): ReadonlyArray<CopyRange> => {
  const partSize = Math.max(S3Bucket.MIN_PART_SIZE, Math.min(limit, PREFERRED_COPY_PART), Math.ceil(size / MAX_PARTS))
  if (partSize > limit) throw new Error(`an object of ${size} bytes does not fit in ${MAX_PARTS} parts of at most ${limit} bytes`)
  const ranges: Array<CopyRange> = []
  for (let first = 0, partNumber = 1; first < size; first += partSize, partNumber++) {
    ranges.push({ partNumber, first, last: Math.min(first + partSize, size) - 1 })
  }
  return ranges
}

/** Runs `task` over `items`, at most `concurrency` at once; the results in the items' order. Rejects with the first failure, once the tasks started have settled. */
const inPool = async <A, B>(items: ReadonlyArray<A>, concurrency: number, task: (item: A) => Promise<B>): Promise<Array<B>> => {
  const results = new Array<B>(items.length)
  let next = 0
  let failure: { readonly cause: unknown } | undefined
  const worker = async () => {
    while (failure === undefined && next < items.length) {
      const index = next++
      try {
        results[index] = await task(items[index]!)
      } catch (cause) {
        failure ??= { cause }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker))
  if (failure !== undefined) throw failure.cause
  return results
}

export interface LargeCopy {
  readonly from: string
  readonly to: string
  /** The source's size in bytes. */
  readonly size: number
  /** Complete only if `to` does not exist yet (If-None-Match: *). */
  readonly ifAbsent: boolean
  /** Who publishes `to` (its `upload` metadata, see `S3Bucket.publisher`). */
  readonly upload: string
  /** Parts copied (or streamed) at once. */
  readonly concurrency: number
}

/**
 * Copies `from` to `to` in parts. Rejects with the server's own error when
 * `to` was taken meanwhile (`isConditionFailed`) or conditional completion is
 * not implemented (`isUnsupported`), so the publisher can go on as it does
 * after a single copy; nothing is left under `to` then.
 */
export const copyLarge = async (bucket: S3Bucket.S3Bucket, copy: LargeCopy): Promise<void> => {
  const concurrency = copy.concurrency
  const multipartId = await bucket.createMultipart(copy.to, copy.upload)
  let completed = false
  try {
    let parts: ReadonlyArray<PartWriter.UploadedPart>
    try {
      parts = await inPool(copyRanges(copy.size, bucket.settings.singleCopyLimit ?? S3Bucket.MAX_COPY_SIZE), concurrency, async (range) => ({
        PartNumber: range.partNumber,
        ETag: await bucket.copyPart(copy.from, copy.to, multipartId, range.partNumber, range.first, range.last)
      }))
    } catch (cause) {
      if (!S3Bucket.isUnsupported(cause)) throw cause
      parts = await streamParts(bucket, copy, multipartId, concurrency)
    }
    await bucket.completeMultipart(copy.to, multipartId, parts, copy.ifAbsent)
    completed = true
  } finally {
    // Best effort: an abort that fails leaves the parts to the bucket's lifecycle rule.
    if (!completed) await bucket.abortMultipart(copy.to, multipartId).catch(() => undefined)
  }
}

/** The source's bytes read through this process into the parts of `multipartId`, for servers without UploadPartCopy. */
const streamParts = async (bucket: S3Bucket.S3Bucket, copy: LargeCopy, multipartId: string, concurrency: number) => {
  const writer = PartWriter.make({
    create: () => Promise.resolve(multipartId),
    uploadPart: (id, partNumber, body) => bucket.uploadPart(copy.to, id, partNumber, body)
  }, Math.max(bucket.settings.partSize, S3Bucket.MIN_PART_SIZE), concurrency)
  try {
    const body = await bucket.read(copy.from)
    if (body === undefined) throw new Error("the staged object is gone")
    for await (const bytes of body as AsyncIterable<Buffer>) await writer.write(bytes)
    if (writer.written() !== copy.size) throw new Error(`read ${writer.written()} of the ${copy.size} staged bytes`)
    const finished = await writer.finish()
    if (finished._tag === "Small") throw new Error("a large copy ended below one part")
    return finished.parts
  } catch (cause) {
    await writer.destroy()
    throw cause
  }
}
