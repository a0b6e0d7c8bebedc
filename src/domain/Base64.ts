/**
 * Strict base64 (RFC 4648, standard alphabet, padded). Node's decoder skips
 * characters it does not know and stops at the first padding, so a malformed
 * chunk would silently lose bytes; this refuses it instead.
 */

const MINUS = 45 // "-", URL-safe alphabet
const UNDERSCORE = 95 // "_", URL-safe alphabet
const EQUALS = 61

/** Decodes `text`, or returns `undefined` when it is not strict base64. */
export const decodeStrict = (text: string): Buffer | undefined => {
  const length = text.length
  if (length % 4 !== 0) return undefined
  if (length === 0) return Buffer.alloc(0)
  const padding = text.charCodeAt(length - 1) === EQUALS ? (text.charCodeAt(length - 2) === EQUALS ? 2 : 1) : 0
  const bytes = Buffer.from(text, "base64")
  // Any skipped character, inner padding or whitespace shortens the output.
  if (bytes.length !== (length / 4) * 3 - padding) return undefined
  // Node also accepts the URL-safe alphabet; standard base64 does not.
  if (text.indexOf(String.fromCharCode(MINUS)) !== -1 || text.indexOf(String.fromCharCode(UNDERSCORE)) !== -1) {
    return undefined
  }
  return bytes
}
