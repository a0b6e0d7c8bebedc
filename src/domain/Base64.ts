/**
 * Strict base64 (RFC 4648, standard alphabet, padded). Node's decoder skips
 * characters it does not know, stops at inner padding, accepts the URL-safe
 * alphabet and reads non-ASCII characters by their low byte, so a malformed
 * chunk would silently become other bytes; this refuses it instead.
 */

import { isAscii } from "node:buffer"

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

/**
 * Characters decoded per step by {@link decodeStrictAscii}: a multiple of 4,
 * so each step is whole quads, and small enough that each step's string is an
 * ordinary young-generation object, not one for V8's large-object space
 * (fresh pages the kernel must fault in, freed only by a full collection),
 * where the base64 of a whole chunk would go. See docs/performance.md.
 */
const STEP = 32 * 1024

/**
 * Decodes base64 text given as its ASCII bytes (say, the `chunk` field of a
 * WebSocket frame, read in place), exactly as {@link decodeStrict} decodes
 * the same text: the same bytes, or `undefined` for the same inputs. It never
 * makes one string of the whole text: it decodes it a step at a time into the
 * result. Each step is whole quads, so nothing is skipped or stopped at across
 * a step's end; a skipped character or inner padding in any step leaves the
 * result short, which the final count catches as the one-string check does.
 */
export const decodeStrictAscii = (text: Uint8Array): Buffer | undefined => {
  const length = text.length
  if (length % 4 !== 0) return undefined
  const padding = length === 0 ? 0 : text[length - 1] !== 61 ? 0 : text[length - 2] !== 61 ? 1 : 2
  const source = Buffer.from(text.buffer, text.byteOffset, length)
  // Bytes of 0x80 and up are not ASCII (the text cannot be the bytes of a
  // string of ASCII characters): Node's decoder skips them, so the final count
  // would refuse them too, but that is its behaviour, not its promise.
  // "-" and "_" are the URL-safe alphabet.
  if (!isAscii(source) || source.indexOf(0x2d) !== -1 || source.indexOf(0x5f) !== -1) return undefined
  const bytes = Buffer.allocUnsafe((length / 4) * 3 - padding)
  let written = 0
  for (let start = 0; start < length; start += STEP) {
    written += bytes.write(source.toString("latin1", start, Math.min(start + STEP, length)), written, "base64")
  }
  return written === bytes.length ? bytes : undefined
}
