/**
 * The `.partial/` folder of the S3 store, under its prefix: a suspended
 * upload's bytes as one object (`.partial/<upload id>`), and when it last
 * received bytes (`.partial/<upload id>.json`), which the expiry sweep reads.
 */
import type { UploadedPart } from "./PartWriter.js"
import * as S3Bucket from "./S3Bucket.js"

export const PARTIAL_FOLDER = ".partial/"
export const TOUCH_SUFFIX = ".json"

/** The key of an upload's bytes (its multipart upload while open, its object once suspended). */
export const dataKey = (uploadId: string) => `${PARTIAL_FOLDER}${uploadId}`
/** The key that records when an upload last received bytes. */
export const touchKey = (uploadId: string) => `${PARTIAL_FOLDER}${uploadId}${TOUCH_SUFFIX}`

/** Removes both keys of an upload; succeeds when they do not exist. */
export const remove = (bucket: S3Bucket.S3Bucket, uploadId: string) =>
  Promise.all([bucket.remove(dataKey(uploadId)), bucket.remove(touchKey(uploadId))])

/**
 * Completes the multipart upload `multipartId` of `uploadId`'s bytes as its `.partial/` object of
 * `bytes` bytes. A completion that fails although it was done (its answer lost, the SDK's retry then
 * finding no multipart upload) is seen to be done by the object's size; with `goneIsDone`, so is one
 * whose multipart upload is gone (the object is then what there is).
 */
export const complete = async (
  bucket: S3Bucket.S3Bucket,
  uploadId: string,
  multipartId: string,
  parts: ReadonlyArray<UploadedPart>,
  bytes: number,
  goneIsDone = false
): Promise<void> => {
  try {
    await bucket.completeMultipart(dataKey(uploadId), multipartId, parts)
  } catch (cause) {
    if (goneIsDone && S3Bucket.isNoSuchUpload(cause)) return
    if ((await bucket.size(dataKey(uploadId)).catch(() => undefined)) !== bytes) throw cause
  }
}

/** Records that `uploadId` last received bytes at `touchedAt` (epoch ms). */
export const writeTouchedAt = (bucket: S3Bucket.S3Bucket, uploadId: string, touchedAt: number) =>
  bucket.put(touchKey(uploadId), JSON.stringify({ touchedAt }))

/** When `uploadId` last received bytes; `lastModified` (its object's) when nothing readable was recorded. */
export const readTouchedAt = async (bucket: S3Bucket.S3Bucket, uploadId: string, lastModified: number): Promise<number> => {
  const body = await bucket.read(touchKey(uploadId))
  if (body === undefined) return lastModified
  const chunks: Array<Buffer> = []
  for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk)
  const stored = (JSON.parse(Buffer.concat(chunks).toString()) as { touchedAt?: unknown }).touchedAt
  return typeof stored === "number" ? stored : lastModified
}
