/**
 * What an upload id is, and how logs name an upload without it: the id lets
 * its holder resume, append to or cancel the upload, so it never goes into a
 * log line; logs carry its reference instead.
 */
import { createHash, randomBytes } from "node:crypto"

/** A new id: 144 random bits, base64url (24 characters). */
export const newUploadId = (): string => randomBytes(18).toString("base64url")

/**
 * How logs name an upload: the first 16 hex digits of sha256(upload_id).
 * Whoever has the id can compute the reference.
 */
export const logReference = (uploadId: string): string => createHash("sha256").update(uploadId).digest("hex").slice(0, 16)

/** `text` with every occurrence of `uploadId` replaced by its log reference (error texts name partial files by it). */
export const redact = (text: string, uploadId?: string): string =>
  (uploadId === undefined ? text : text.split(uploadId).join(logReference(uploadId)))
    // Any other upload's id, in the name of its partial file or record.
    .replace(/\.[A-Za-z0-9_-]{22,64}\.(part|upload\.json)/g, ".<upload id>.$1")
