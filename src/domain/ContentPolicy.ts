/**
 * Content policy: what the bytes of a file must look like, given its
 * extension. Text formats must be UTF-8 without NUL bytes; formats with a
 * known signature (magic number) must start with it; anything else is not
 * checked. Pure: the application detects the signature (with `file-type`)
 * and asks {@link judgeSignature} whether it fits.
 */
import { Data, Either } from "effect"
import * as Refusals from "./Refusals.js"

/** What an extension promises about the file's bytes. */
export type Expectation = Data.TaggedEnum<{
  /** UTF-8 text without NUL bytes, checked over the whole file. */
  Text: {}
  /** The head must be detected as one of `accepted` (file-type's extension names). */
  Signature: { readonly accepted: ReadonlyArray<string> }
  /** No check: no detector knows this format, or the name says nothing about the bytes. */
  Anything: {}
}>
export const Expectation = Data.taggedEnum<Expectation>()

/** Extensions whose files are plain text. */
export const TEXT_EXTENSIONS: ReadonlySet<string> = new Set([
  "txt", "text", "log", "csv", "tsv", "json", "ndjson", "jsonl", "md", "markdown", "rst", "xml", "svg", "html", "htm",
  "css", "js", "mjs", "ts", "yaml", "yml", "toml", "ini", "cfg", "conf", "vtt", "srt", "ics", "vcf", "tex", "sql", "sh", "py"
])

/** Extensions too generic to promise a format, even though some detector names one of its formats so. */
const GENERIC_EXTENSIONS: ReadonlySet<string> = new Set(["dat", "sav", "bin"])

/** Names that denote the same kind of content: a file named with one may be detected as any other. */
const FAMILIES: ReadonlyArray<ReadonlyArray<string>> = [
  ["jpg", "jpeg", "jpe", "jfif"],
  ["png", "apng"],
  ["tif", "tiff", "dng", "cr2", "nef", "arw", "orf", "rw2"],
  ["pdf", "ai"],
  ["ps", "eps"],
  ["ico", "cur"],
  ["gz", "tar.gz", "tgz"],
  ["mkv", "webm"],
  ["mp1", "mp2", "mp3"],
  ["ogg", "oga", "ogv", "opus", "spx", "ogm", "ogx"],
  ["mp4", "m4v", "m4a", "m4p", "m4b", "mov", "3gp", "3g2", "f4v", "f4p", "f4a", "f4b", "heic", "avif"],
  [
    "zip", "docx", "pptx", "xlsx", "vsdx", "potx", "xltx", "dotx", "xltm", "xlsm", "docm", "dotm", "potm", "pptm",
    "ppsm", "ppsx", "odt", "ods", "odp", "odg", "otg", "ott", "ots", "otp", "epub", "jar", "apk", "xpi", "3mf"
  ]
]

/**
 * What a file named `*.extension` must contain. `detectable` is the set of
 * extensions the signature detector can recognise; others are not checked.
 */
export const expectationFor = (extension: string, detectable: ReadonlySet<string>): Expectation => {
  const ext = extension.toLowerCase()
  if (TEXT_EXTENSIONS.has(ext)) return Expectation.Text()
  if (GENERIC_EXTENSIONS.has(ext) || !detectable.has(ext)) return Expectation.Anything()
  const family = FAMILIES.find((names) => names.includes(ext))
  return Expectation.Signature({ accepted: family ?? [ext] })
}

/** The refusal text for a file whose bytes do not fit `extension` (see Refusals). */
export const mismatch = (extension: string): string => Refusals.contentMismatch(extension).message

/** The refusal text for a text file that is not UTF-8 or holds a NUL byte (see Refusals). */
export const notText = (extension: string): string => Refusals.notText(extension).message

/**
 * Whether a head detected as `detected` (undefined: no known signature) fits
 * a `Signature` expectation; the refusal otherwise.
 */
export const judgeSignature = (
  extension: string,
  accepted: ReadonlyArray<string>,
  detected: string | undefined
): Either.Either<void, string> =>
  detected !== undefined && accepted.includes(detected.toLowerCase()) ? Either.void : Either.left(mismatch(extension))
