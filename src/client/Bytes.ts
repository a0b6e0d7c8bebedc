/** Byte helpers that work the same in browsers and Node: base64 without Buffer, and hashing a source. */
import { UploadCancelledError } from "./Errors.js"
import type { Hasher } from "./Sha256.js"
import type { UploadSource } from "./Source.js"

const BLOCK = 32 * 1024

/** Standard padded base64 (what the server's strict decoder wants); built in blocks so no call gets too many arguments. */
export const toBase64 = (bytes: Uint8Array): string => {
  const parts: Array<string> = []
  for (let i = 0; i < bytes.length; i += BLOCK) {
    parts.push(String.fromCharCode.apply(null, bytes.subarray(i, i + BLOCK) as unknown as Array<number>))
  }
  return btoa(parts.join(""))
}

const HASH_SLICE = 1024 * 1024

/** Reads a random-access source once, start to end, and returns its digest in hex. */
export const hashSource = async (
  source: UploadSource,
  hasher: Hasher,
  onHashed: (bytes: number) => void,
  signal: AbortSignal | undefined
): Promise<string> => {
  for (let at = 0; at < source.size; at += HASH_SLICE) {
    if (signal?.aborted) throw new UploadCancelledError()
    hasher.update(await source.read(at, Math.min(at + HASH_SLICE, source.size)))
    onHashed(Math.min(at + HASH_SLICE, source.size))
  }
  return hasher.digestHex()
}
