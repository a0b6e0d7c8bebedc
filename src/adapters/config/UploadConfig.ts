/**
 * What an upload may be (FILE_MAX_SIZE in MiB, MAX_CHUNK_BYTES,
 * FILE_ALLOWED_EXTENSIONS): the policy the session enforces and
 * `/config.json` publishes, read once.
 */
import { Config, ConfigError, Either } from "effect"
import type { UploadPolicy } from "../../domain/Upload.js"
import { integerBetween } from "./ConfigValues.js"

export const MiB = 1024 * 1024

export const DEFAULT_EXTENSIONS = "txt,pdf,png,jpg,jpeg,gif"

/** Parses `txt,pdf` or `["txt", "pdf"]` into lower-case extensions without dots. */
export const parseExtensions = (text: string): Either.Either<ReadonlyArray<string>, string> => {
  let items: ReadonlyArray<unknown>
  if (text.trim().startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(text)
      if (!Array.isArray(parsed)) return Either.left("a JSON list of strings")
      items = parsed
    } catch {
      return Either.left("a JSON list of strings")
    }
  } else {
    items = text.split(",")
  }
  const extensions: Array<string> = []
  for (const item of items) {
    if (typeof item !== "string") return Either.left("extensions as strings")
    const extension = item.trim().replace(/^\./, "").toLowerCase()
    if (!/^[\p{L}\p{N}_-]+$/u.test(extension)) {
      return Either.left("a comma-separated list of extensions made of letters and digits, like txt,pdf")
    }
    if (!extensions.includes(extension)) extensions.push(extension)
  }
  return extensions.length === 0 ? Either.left("at least one extension") : Either.right(extensions)
}

export const UploadConfig: Config.Config<UploadPolicy> = Config.all({
  maxFileBytes: integerBetween("FILE_MAX_SIZE", 0, Math.floor(Number.MAX_SAFE_INTEGER / MiB), 20, "MiB").pipe(
    Config.map((mebibytes) => mebibytes * MiB)
  ),
  maxChunkBytes: integerBetween("MAX_CHUNK_BYTES", 1, 64 * MiB, MiB, "bytes"),
  allowedExtensions: Config.string("FILE_ALLOWED_EXTENSIONS").pipe(
    Config.withDefault(DEFAULT_EXTENSIONS),
    Config.mapOrFail((text) =>
      Either.mapLeft(
        parseExtensions(text),
        (expectation) => ConfigError.InvalidData(["FILE_ALLOWED_EXTENSIONS"], `expected ${expectation}, got "${text}"`)
      )
    )
  )
})
