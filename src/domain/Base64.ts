/**
 * Strict base64 (RFC 4648, standard alphabet, padded, canonical). Node's
 * decoder skips characters it does not know, stops at the first padding,
 * accepts the URL-safe alphabet and reads non-ASCII characters by their low
 * byte, so a malformed chunk would silently become other bytes; this refuses
 * it instead.
 */

/** Decodes `text`, or returns `undefined` when it is not strict base64. */
export const decodeStrict = (text: string): Buffer | undefined => {
  if (text.length % 4 !== 0) return undefined
  const bytes = Buffer.from(text, "base64")
  // Encoding is canonical, so any input Node had to interpret leniently
  // (skipped, foreign or misplaced characters, non-zero padding bits) differs.
  return bytes.toString("base64") === text ? bytes : undefined
}
