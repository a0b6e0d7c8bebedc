/**
 * The header rules of the HTTP transport, as pure functions: tus 1.0.0
 * (https://tus.io/protocols/resumable-upload) and the IETF draft
 * "Resumable Uploads for HTTP" in the two versions tus-js-client 4 speaks
 * (`Upload-Draft-Interop-Version` 5 and 6).
 *
 * - A tus request carries `Tus-Resumable: 1.0.0` (all but OPTIONS); any other
 *   version is refused with 412 and `Tus-Version`.
 * - An IETF request carries `Upload-Draft-Interop-Version`; whether the upload
 *   is complete travels as a structured-field boolean (`?1` / `?0`) in
 *   `Upload-Complete`; an IETF body may have any content type.
 * - `Upload-Metadata` is a comma-separated list of `key base64(value)`;
 *   `filename` (or `name`) is the file name, `filetype` its type, and
 *   `sha256` (hex) the digest the whole file must have.
 * - `Upload-Checksum: <algorithm> <base64 digest>` covers one request's body.
 * - An error answers with the status the specs name and a short JSON body with
 *   the same `code` vocabulary as the WebSocket protocol.
 */
import { Either } from "effect"
import type * as Refusal from "../../domain/Refusal.js"

export const TUS_VERSION = "1.0.0"
export const TUS_EXTENSIONS = ["creation", "creation-with-upload", "termination", "expiration", "checksum"] as const
export const CHECKSUM_ALGORITHMS = ["sha1", "sha256"] as const
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number]

/** The IETF draft's interop versions this server speaks (tus-js-client's ietf-draft-03 and ietf-draft-05). */
export const INTEROP_VERSIONS: ReadonlySet<string> = new Set(["5", "6"])

/** The content type of a tus PATCH body. */
export const OFFSET_OCTET_STREAM = "application/offset+octet-stream"

/** The headers a browser page may send, and read, across origins. */
export const ALLOWED_HEADERS = [
  "Authorization",
  "Content-Type",
  "Tus-Resumable",
  "Upload-Length",
  "Upload-Offset",
  "Upload-Metadata",
  "Upload-Checksum",
  "Upload-Defer-Length",
  "Upload-Concat",
  "Upload-Complete",
  "Upload-Incomplete",
  "Upload-Draft-Interop-Version",
  "X-HTTP-Method-Override",
  "X-Requested-With"
].join(", ")
export const EXPOSED_HEADERS = [
  "Location",
  "Upload-Offset",
  "Upload-Length",
  "Upload-Expires",
  "Upload-Metadata",
  "Upload-Complete",
  "Upload-Incomplete",
  "Upload-Draft-Interop-Version",
  "Tus-Resumable",
  "Tus-Version",
  "Tus-Extension",
  "Tus-Max-Size",
  "Tus-Checksum-Algorithm",
  "Repr-Digest",
  "File-Receiver-Stored-Name",
  "File-Receiver-Extension",
  "File-Receiver-Sha256",
  "Retry-After"
].join(", ")
export const METHODS = "POST, HEAD, PATCH, DELETE, OPTIONS"

/** The answer to a CORS preflight (an OPTIONS with Access-Control-Request-Method). */
export const PREFLIGHT: Record<string, string> = {
  "Access-Control-Allow-Methods": METHODS,
  "Access-Control-Allow-Headers": ALLOWED_HEADERS,
  "Access-Control-Max-Age": "86400"
}

/** The answer to a tus discovery OPTIONS: what this server speaks, and the largest upload. */
export const discovery = (maxFileBytes: number): Record<string, string> => ({
  "Tus-Resumable": TUS_VERSION,
  "Tus-Version": TUS_VERSION,
  "Tus-Extension": TUS_EXTENSIONS.join(","),
  "Tus-Max-Size": String(maxFileBytes),
  "Tus-Checksum-Algorithm": CHECKSUM_ALGORITHMS.join(",")
})

/** What `Upload-Metadata` says. */
export interface Metadata {
  readonly fileName: string | undefined
  readonly fileType: string | undefined
  readonly sha256: string | undefined
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const KEY = /^[^\s,]+$/

/** Parses `Upload-Metadata`; Left with what is wrong. A key may come without a value; keys are unique. */
export const parseMetadata = (header: string | undefined): Either.Either<Metadata, string> => {
  const pairs = new Map<string, string>()
  for (const entry of (header ?? "").split(",")) {
    const trimmed = entry.trim()
    if (trimmed === "") continue
    const [key, value, ...rest] = trimmed.split(/ +/)
    if (key === undefined || !KEY.test(key) || rest.length > 0) return Either.left(`Upload-Metadata has a malformed entry`)
    if (pairs.has(key)) return Either.left(`Upload-Metadata repeats the key ${key}`)
    if (value !== undefined && (!BASE64.test(value) || value.length % 4 === 1)) {
      return Either.left(`Upload-Metadata's ${key} is not base64`)
    }
    pairs.set(key, value === undefined ? "" : Buffer.from(value, "base64").toString("utf8"))
  }
  const sha256 = pairs.get("sha256")
  if (sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(sha256)) return Either.left("Upload-Metadata's sha256 is not 64 hex digits")
  return Either.right({ fileName: pairs.get("filename") ?? pairs.get("name"), fileType: pairs.get("filetype"), sha256 })
}

/** `Upload-Metadata` for a file name (what HEAD repeats of it). */
export const formatMetadata = (fileName: string): string => `filename ${Buffer.from(fileName, "utf8").toString("base64")}`

/** A non-negative integer header (`Upload-Length`, `Upload-Offset`), as the specs allow it: digits only. */
export const parseCount = (header: string | undefined): number | undefined =>
  header !== undefined && /^\d{1,16}$/.test(header.trim()) ? Number(header.trim()) : undefined

/** `Upload-Checksum: <algorithm> <base64>`: Left "unsupported" for an unknown algorithm, "malformed" otherwise. */
export const parseChecksum = (
  header: string
): Either.Either<{ readonly algorithm: ChecksumAlgorithm; readonly digest: Buffer }, "unsupported" | "malformed"> => {
  const [algorithm, digest, ...rest] = header.trim().split(/ +/)
  if (algorithm === undefined || digest === undefined || rest.length > 0 || !BASE64.test(digest)) return Either.left("malformed")
  const known = CHECKSUM_ALGORITHMS.find((name) => name === algorithm.toLowerCase())
  return known === undefined ? Either.left("unsupported") : Either.right({ algorithm: known, digest: Buffer.from(digest, "base64") })
}

/** A structured-field boolean (RFC 8941): `?1` or `?0`; undefined when absent or anything else. */
export const parseBoolean = (header: string | undefined): boolean | undefined =>
  header === undefined ? undefined : header.trim() === "?1" ? true : header.trim() === "?0" ? false : undefined

/**
 * Whether an IETF request says its upload is complete after this request's
 * body: `Upload-Complete` (what tus-js-client sends in both versions), else
 * the older inverted `Upload-Incomplete` of version 5 (absent: complete).
 */
export const completeness = (
  interop: string,
  headers: { readonly complete: string | undefined; readonly incomplete: string | undefined }
): boolean | undefined => {
  if (headers.complete !== undefined || interop !== "5") return parseBoolean(headers.complete)
  const incomplete = headers.incomplete === undefined ? false : parseBoolean(headers.incomplete)
  return incomplete === undefined ? undefined : !incomplete
}

/** The header that says whether an upload is complete (`Upload-Complete`, in both versions). */
export const completenessHeader = (complete: boolean): Record<string, string> => ({ "Upload-Complete": complete ? "?1" : "?0" })

/** An HTTP date (RFC 9110's IMF-fixdate), for `Upload-Expires`. */
export const httpDate = (epochMillis: number): string => new Date(epochMillis).toUTCString()

/** `Repr-Digest` (RFC 9530) for a hex sha256. */
export const reprDigest = (sha256Hex: string): string => `sha-256=:${Buffer.from(sha256Hex, "hex").toString("base64")}:`

/** The HTTP status for each refusal code: what the tus protocol and the draft name, else the nearest HTTP meaning. */
export const STATUS: Record<Refusal.RefusalCode, number> = {
  invalid_message: 400,
  unknown_type: 400,
  no_upload: 409,
  invalid_name: 400,
  invalid_extension: 400,
  file_too_large: 413,
  chunk_too_large: 413,
  invalid_base64: 400,
  wrong_offset: 409,
  exceeds_size: 413,
  checksum_mismatch: 460,
  content_mismatch: 422,
  insufficient_storage: 507,
  disk_full: 507,
  storage_unavailable: 503,
  storage_failed: 500,
  unknown_upload: 404,
  busy: 423,
  taken_over: 423,
  resume_mismatch: 409,
  too_many_uploads: 429,
  too_many_connections: 429,
  upload_refused: 403,
  rate_limited: 429,
  idle_timeout: 408,
  upload_stalled: 408,
  internal_error: 500
}

/** The body of an error response: the refusal's code and text (and `retry_after` when it has one). */
export const errorBody = (refusal: Refusal.Refusal): string =>
  JSON.stringify(
    refusal.retryAfter === undefined
      ? { code: refusal.code, message: refusal.message }
      : { code: refusal.code, message: refusal.message, retry_after: refusal.retryAfter }
  )
