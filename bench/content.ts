/**
 * Upload content for the benchmark, made in memory (never read from disk):
 * a file is a run of 1 MiB pages, each a copy of one pseudo-random block
 * whose first 8 bytes are replaced by the upload's seed and the page number,
 * so every page and every file differs. A byte stream is a pure function of
 * (seed, size), so the sender and the expected sha256 use the same bytes.
 */
import { createHash } from "node:crypto"
import { createReadStream } from "node:fs"

export const MiB = 1024 * 1024
const HEADER_BYTES = 8

/** What one upload sends: `size` bytes derived from `seed`. */
export interface Payload {
  readonly seed: number
  readonly size: number
}

/** One 1 MiB block from xorshift32 (fixed seed): incompressible, reproducible. */
const block: Buffer = (() => {
  const bytes = Buffer.allocUnsafe(MiB)
  let state = 0x9e3779b9
  for (let offset = 0; offset < MiB; offset += 4) {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    bytes.writeUInt32LE(state >>> 0, offset)
  }
  return bytes
})()

const header = Buffer.alloc(HEADER_BYTES)

/** Writes bytes [offset, offset + target.length) of `payload` into `target`. */
export const fill = (payload: Payload, offset: number, target: Buffer): void => {
  let written = 0
  while (written < target.length) {
    const position = offset + written
    const page = Math.floor(position / MiB)
    const within = position % MiB
    const length = Math.min(MiB - within, target.length - written)
    block.copy(target, written, within, within + length)
    if (within < HEADER_BYTES) {
      header.writeUInt32LE(payload.seed >>> 0, 0)
      header.writeUInt32LE(page >>> 0, 4)
      header.copy(target, written, within, Math.min(HEADER_BYTES, within + length))
    }
    written += length
  }
}

/** A fresh buffer with bytes [offset, offset + length) of `payload`. */
export const slice = (payload: Payload, offset: number, length: number): Buffer => {
  const bytes = Buffer.allocUnsafe(Math.min(length, payload.size - offset))
  fill(payload, offset, bytes)
  return bytes
}

/** The whole payload in one buffer (for tus-js-client, which takes a Buffer). */
export const materialize = (payload: Payload): Buffer => slice(payload, 0, payload.size)

const expected = new Map<string, string>()

/**
 * The sha256 (hex) of `payload`, computed from the same generator the sender
 * uses and cached, so hashing never runs inside a timed upload.
 */
export const sha256Of = (payload: Payload): string => {
  const key = `${payload.seed}:${payload.size}`
  const cached = expected.get(key)
  if (cached !== undefined) return cached
  const hash = createHash("sha256")
  const scratch = Buffer.allocUnsafe(MiB)
  for (let offset = 0; offset < payload.size; offset += MiB) {
    const length = Math.min(MiB, payload.size - offset)
    const view = scratch.subarray(0, length)
    fill(payload, offset, view)
    hash.update(view)
  }
  const digest = hash.digest("hex")
  expected.set(key, digest)
  return digest
}

/** The sha256 (hex) and size of a file on disk. */
export const sha256File = (path: string): Promise<{ readonly sha256: string; readonly size: number }> =>
  new Promise((resolve, reject) => {
    const hash = createHash("sha256")
    let size = 0
    createReadStream(path, { highWaterMark: MiB })
      .on("data", (data) => {
        const bytes = typeof data === "string" ? Buffer.from(data) : data
        size += bytes.length
        hash.update(bytes)
      })
      .on("error", reject)
      .on("end", () => resolve({ sha256: hash.digest("hex"), size }))
  })
