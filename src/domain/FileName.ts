/**
 * File-name policy: how a client-supplied name becomes a safe stored name, and
 * which extensions are accepted. Pure functions, no I/O.
 */
import { Either } from "effect"
import type * as Refusal from "./Refusal.js"
import * as Refusals from "./Refusals.js"

/** Longest stored name, in UTF-8 bytes (the usual filesystem limit). */
export const MAX_NAME_BYTES = 255

/**
 * A cleaned, policy-checked file name. `name` keeps the client's spelling
 * (`Photo.JPG`); `extension` is the lower-case form that was checked and is
 * reported (`jpg`).
 */
export interface SafeFileName {
  readonly name: string
  readonly stem: string
  readonly extension: string
}

const byteLength = (text: string): number => Buffer.byteLength(text, "utf8")

/**
 * Reduces a client-supplied name to its last path component and keeps only
 * Unicode letters, digits, `.`, `_` and `-`. Leading and trailing dots are
 * dropped, so a name can never be hidden, `.` or `..`.
 */
export const clean = (fileName: string): string => {
  const lastComponent = fileName.split(/[/\\]/).pop() ?? ""
  return lastComponent
    .normalize("NFC")
    .replace(/[^\p{L}\p{N}._-]/gu, "")
    .replace(/^\.+|\.+$/g, "")
}

/**
 * Cleans `fileName` and checks it against the policy: a non-empty stem, an
 * extension in `allowedExtensions` (compared case-insensitively; the list is
 * expected in lower case) and at most {@link MAX_NAME_BYTES} bytes.
 * Fails with the user-facing reason.
 */
export const validate = (
  fileName: string,
  allowedExtensions: ReadonlyArray<string>
): Either.Either<SafeFileName, Refusal.Refusal> => {
  const cleaned = clean(fileName)
  const dot = cleaned.lastIndexOf(".")
  if (dot <= 0 || dot === cleaned.length - 1) {
    return Either.left(Refusals.invalidName())
  }
  const extension = cleaned.slice(dot + 1).toLowerCase()
  if (!allowedExtensions.includes(extension)) {
    return Either.left(Refusals.invalidExtension(extension, allowedExtensions))
  }
  if (byteLength(cleaned) > MAX_NAME_BYTES) {
    return Either.left(Refusals.nameTooLong(MAX_NAME_BYTES))
  }
  return Either.right({ name: cleaned, stem: cleaned.slice(0, dot), extension })
}

/**
 * The n-th alternative name used when `file` is taken: `report.pdf` ->
 * `report_1.pdf`. The stem is shortened (never splitting a character) so the
 * result still fits in {@link MAX_NAME_BYTES}.
 */
export const alternativeName = (file: SafeFileName, attempt: number): string => {
  const suffix = `_${attempt}${file.name.slice(file.stem.length)}`
  let stem = file.stem
  while (byteLength(stem) + byteLength(suffix) > MAX_NAME_BYTES) {
    stem = Array.from(stem).slice(0, -1).join("")
  }
  return `${stem}${suffix}`
}
