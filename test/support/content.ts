/**
 * Real file heads for content-check tests: the first bytes of a PNG, a PDF,
 * a Linux executable (ELF) and a Windows one (PE), as those formats define them.
 */
import { randomBytes } from "node:crypto"

/** PNG signature, a 13-byte IHDR chunk, and the start of an IDAT chunk. */
export const PNG_HEAD = Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000000000000000000049444154", "hex")

export const PDF_HEAD = Buffer.from("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "latin1")

/** An ELF64 little-endian executable header (x86-64). */
export const ELF_HEAD = Buffer.from("7f454c4602010100000000000000000002003e0001000000", "hex")

/** `head`, then `size - head.length` bytes of noise (deterministic). */
export const withHead = (head: Uint8Array, size: number): Buffer => {
  const bytes = Buffer.alloc(size)
  let state = 0x2545f491
  for (let i = 0; i < size; i++) {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    bytes[i] = state & 0xff
  }
  Buffer.from(head).copy(bytes)
  return bytes
}

/** A JPEG's first bytes: SOI, then an APP0 (JFIF) marker. */
export const JPEG_HEAD = Buffer.from("ffd8ffe000104a464946000101", "hex")

export const GIF_HEAD = Buffer.from("GIF89a", "latin1")

const HEADS: Record<string, Buffer> = { png: PNG_HEAD, pdf: PDF_HEAD, jpg: JPEG_HEAD, jpeg: JPEG_HEAD, gif: GIF_HEAD }

/**
 * `size` random bytes that pass the content check under `name`: the format's
 * head then noise for png, pdf, jpg and gif; printable ASCII for anything else.
 */
export const sampleFor = (name: string, size: number): Buffer => {
  const bytes = randomBytes(size)
  const head = HEADS[name.slice(name.lastIndexOf(".") + 1).toLowerCase()]
  if (head !== undefined) {
    head.copy(bytes)
    return bytes
  }
  for (let i = 0; i < size; i++) bytes[i] = 0x20 + (bytes[i]! % 95)
  return bytes
}
