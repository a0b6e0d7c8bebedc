/** The server's limits (`GET /config.json`) and the checks the page makes before sending a file. */
import { UPLOAD_PATH } from "../../domain/UploadPath.js"
import { extensionOf } from "../Format.js"

const MiB = 1024 * 1024

/** As the server writes a limit: `20 MiB`, or bytes when not whole MiB. */
const formatLimit = (bytes: number): string => (bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} bytes`)

export interface Limits {
  readonly maxFileBytes: number
  readonly allowedExtensions: ReadonlyArray<string>
  readonly uploadPath: string
}

/** Reads /config.json; undefined when it cannot (the server still checks everything). */
export const fetchLimits = async (): Promise<Limits | undefined> => {
  try {
    const response = await fetch("/config.json", { cache: "no-cache" })
    if (!response.ok) return undefined
    const body = (await response.json()) as Record<string, unknown>
    return {
      maxFileBytes: Number(body["max_file_bytes"]),
      allowedExtensions: Array.isArray(body["allowed_extensions"]) ? body["allowed_extensions"].map(String) : [],
      uploadPath: typeof body["upload_path"] === "string" ? body["upload_path"] : UPLOAD_PATH
    }
  } catch {
    return undefined
  }
}

/**
 * Why the server would refuse this file before a byte is sent, in the
 * server's own words, or undefined when it looks acceptable.
 */
export const refusal = (file: { readonly name: string; readonly size: number }, limits: Limits | undefined): string | undefined => {
  if (limits === undefined) return undefined
  const extension = extensionOf(file.name)
  if (extension === "") {
    return "Invalid file name: it needs a name and an extension (letters, digits, '.', '_' or '-'), like report.pdf"
  }
  if (limits.allowedExtensions.length > 0 && !limits.allowedExtensions.includes(extension)) {
    return `Invalid file extension: ${extension}. Allowed: ${limits.allowedExtensions.join(", ")}`
  }
  if (file.size > limits.maxFileBytes) {
    return `File too large: ${file.size} bytes exceeds the limit of ${formatLimit(limits.maxFileBytes)}`
  }
  return undefined
}
