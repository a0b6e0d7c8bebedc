/**
 * Publishing a finished upload under its final name in the bucket without
 * ever replacing an object: the first name (`report.pdf`, `report_1.pdf`,
 * ...) that HeadObject finds free and no commit of this process is
 * publishing, written with `If-None-Match: *` where the server supports it.
 */
import * as FileName from "../../domain/FileName.js"
import * as S3Bucket from "./S3Bucket.js"

const MAX_NAME_ATTEMPTS = 10_000

/** A name the store will not publish under (outside the prefix), or no free name: retrying cannot help. */
export class NameRefused extends Error {}

/**
 * A publisher for `bucket`: `publish(file, write, upload)` calls `write(name,
 * ifAbsent)` with the first free name and returns that name. A write refused
 * because the name was taken meanwhile (412) moves on to the next name. A
 * name already published by `upload` (its `upload` metadata, which `write`
 * must set: a crash came after the write, before the upload was recorded
 * as complete) is returned as it is, so nothing is published twice.
 */
export const make = (bucket: S3Bucket.S3Bucket) => {
  /** Names being published by this process: never handed to two commits at once. */
  const publishing = new Set<string>()
  /** Cleared when the server refuses If-None-Match (HeadObject and the reservations still hold). */
  let conditionalWrites = true

  return async (file: FileName.SafeFileName, write: (name: string, ifAbsent: boolean) => Promise<unknown>, upload: string): Promise<string> => {
    for (let attempt = 0; attempt <= MAX_NAME_ATTEMPTS; attempt++) {
      const candidate = attempt === 0 ? file.name : FileName.alternativeName(file, attempt)
      if (candidate.includes("/") || candidate.includes("\\") || candidate.startsWith(".")) {
        throw new NameRefused(`refusing a name outside the store: ${JSON.stringify(candidate)}`)
      }
      if (publishing.has(candidate)) continue
      publishing.add(candidate)
      try {
        const publisher = await bucket.publisher(candidate)
        if (publisher === upload) return candidate
        if (publisher !== undefined) continue
        try {
          await write(candidate, conditionalWrites)
          return candidate
        } catch (cause) {
          // A write that failed may have landed all the same (its answer lost, then a retry refused with 412
          // or 409, or no answer at all): the name is this upload's when its object says so.
          if ((await bucket.publisher(candidate).catch(() => undefined)) === upload) return candidate
          if (S3Bucket.isConditionFailed(cause)) continue
          if (!conditionalWrites || !S3Bucket.isUnsupported(cause)) throw cause
          conditionalWrites = false
          await write(candidate, false)
          return candidate
        }
      } finally {
        publishing.delete(candidate)
      }
    }
    throw new NameRefused(`no free name for ${file.name} after ${MAX_NAME_ATTEMPTS} attempts`)
  }
}
