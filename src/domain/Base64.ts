/**
 * Strict base64 (RFC 4648, standard alphabet, padded). Node's decoder skips
 * characters it does not know, stops at inner padding, accepts the URL-safe
 * alphabet and reads non-ASCII characters by their low byte, so a malformed
 * chunk would silently become other bytes; this refuses it instead.
 */

/** Decodes `text`, or returns `undefined` when it is not strict base64. */
export const decodeStrict = (text: string): Buffer | undefined => {
  const length = text.length
  if (length % 4 !== 0) return undefined
  const padding = length === 0 ? 0 : text.charCodeAt(length - 1) !== 61 ? 0 : text.charCodeAt(length - 2) !== 61 ? 1 : 2
  const bytes = Buffer.from(text, "base64")
  // Every character Node skips (whitespace, punctuation, misplaced "=") makes
  // the output shorter than the input's length promises.
  if (bytes.length !== (length / 4) * 3 - padding) return undefined
  // What Node does not skip but standard base64 refuses: the URL-safe
  // alphabet, and non-ASCII characters (read by their low byte).
  if (text.indexOf("-") !== -1 || text.indexOf("_") !== -1) return undefined
  if (Buffer.byteLength(text, "utf8") !== length) return undefined
  return bytes
}
