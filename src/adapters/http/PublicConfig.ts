/**
 * The limits a client can check before it sends a file (the largest file and
 * chunk, the allowed extensions), and how to connect (the upload path,
 * whether a token is needed), served read-only at `GET /config.json` for
 * the upload page and browser clients. Only these public values: never a
 * secret.
 */
import { Context } from "effect"
import { UPLOAD_PATH } from "../../domain/UploadPath.js"

export class PublicConfig extends Context.Tag("file-receiver/PublicConfig")<PublicConfig, {
  readonly maxFileBytes: number
  readonly maxChunkBytes: number
  readonly allowedExtensions: ReadonlyArray<string>
  /** Whether a handshake must present a token (AUTH_TOKENS): a browser cannot read the 401, but it can read this. */
  readonly authRequired: boolean
}>() {}

/** The JSON body of `GET /config.json`. */
export const toJson = (limits: typeof PublicConfig.Service) => ({
  max_file_bytes: limits.maxFileBytes,
  max_chunk_bytes: limits.maxChunkBytes,
  allowed_extensions: limits.allowedExtensions,
  upload_path: UPLOAD_PATH,
  auth_required: limits.authRequired
})
