/**
 * Real file heads for content-check tests: the first bytes of a PNG, a PDF,
 * a Linux executable (ELF) and a Windows one (PE), as those formats define them.
 */

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
