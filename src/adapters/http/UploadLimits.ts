/**
 * The limits a client can check before it sends a file (the largest file and
 * chunk, the allowed extensions), served read-only at `GET /config.json` for
 * the upload page. Only these public values: never a secret.
 */
import { Context } from "effect"

export class UploadLimits extends Context.Tag("file-receiver/UploadLimits")<UploadLimits, {
  readonly maxFileBytes: number
  readonly maxChunkBytes: number
  readonly allowedExtensions: ReadonlyArray<string>
}>() {}

/** The JSON body of `GET /config.json`. */
export const toJson = (limits: typeof UploadLimits.Service) => ({
  max_file_bytes: limits.maxFileBytes,
  max_chunk_bytes: limits.maxChunkBytes,
  allowed_extensions: limits.allowedExtensions,
  upload_path: "/ws/file-transfer/"
})
