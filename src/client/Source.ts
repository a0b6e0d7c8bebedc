/**
 * What an upload reads from: a name, a size and a way to read byte ranges.
 * Blobs and Files (browser, Node) read any range; a stream is read once, in
 * order, and keeps the bytes the server has not confirmed yet, so a resume
 * can send them again.
 */
import { InvalidSourceError } from "./Errors.js"

export interface UploadSource {
  readonly name: string
  readonly size: number
  /**
   * Bytes `[start, end)`. Random-access sources read anything; stream sources
   * only from the oldest byte not yet released.
   */
  readonly read: (start: number, end: number) => Promise<Uint8Array>
  /**
   * The server holds every byte before `offset`: a stream source may drop them. Called only with
   * offsets the server confirmed; if it later loses some, `upload` fails with ConfirmedBytesLostError.
   */
  readonly release?: (offset: number) => void
  /** False for streams: they cannot be read twice, so they cannot be hashed before sending. */
  readonly randomAccess: boolean
}

/** The part of the DOM `Blob` the client needs (Node's Blob and File have it too). */
export interface BlobLike {
  readonly size: number
  readonly slice: (start: number, end: number) => { arrayBuffer(): Promise<ArrayBuffer> }
}

/** A Blob or File as a source (`name` defaults to the File's own name). */
export const fromBlob = (blob: BlobLike & { readonly name?: string }, name?: string): UploadSource => ({
  name: name ?? blob.name ?? "upload.bin",
  size: blob.size,
  randomAccess: true,
  read: async (start, end) => new Uint8Array(await blob.slice(start, end).arrayBuffer())
})

/**
 * A stream of `size` bytes as a source (a web ReadableStream, a Node Readable,
 * or any async iterable of byte chunks). Memory holds at most the bytes sent
 * but not yet confirmed, plus one chunk read ahead.
 */
export const fromStream = (
  stream: AsyncIterable<Uint8Array> | ReadableStreamLike,
  name: string,
  size: number
): UploadSource => {
  const iterator = asyncIterator(stream)
  let held: Array<Uint8Array> = [] // bytes from `base` on, in order
  let base = 0
  let heldBytes = 0
  let ended = false

  const fill = async (end: number) => {
    while (base + heldBytes < end && !ended) {
      const next = await iterator.next()
      if (next.done) ended = true
      else {
        held.push(next.value)
        heldBytes += next.value.length
      }
    }
  }

  const release = (offset: number) => {
    while (held.length > 0 && base + held[0]!.length <= offset) {
      base += held[0]!.length
      heldBytes -= held[0]!.length
      held = held.slice(1)
    }
  }

  const read = async (start: number, end: number) => {
    if (start < base) throw new InvalidSourceError(`Cannot rewind the stream to byte ${start}: bytes before ${base} were already released`)
    await fill(end)
    if (base + heldBytes < end) throw new InvalidSourceError(`The stream ended after ${base + heldBytes} bytes, before the declared ${size}`)
    const out = new Uint8Array(end - start)
    let at = base
    for (const piece of held) {
      const from = Math.max(start, at), to = Math.min(end, at + piece.length)
      if (from < to) out.set(piece.subarray(from - at, to - at), from - start)
      at += piece.length
      if (at >= end) break
    }
    return out
  }

  return { name, size, randomAccess: false, read, release }
}

/** The part of a web ReadableStream of bytes the client needs. */
export interface ReadableStreamLike {
  readonly getReader: () => { read(): Promise<{ readonly done: boolean; readonly value?: Uint8Array | undefined }> }
}

const asyncIterator = (
  stream: AsyncIterable<Uint8Array> | ReadableStreamLike
): { next: () => Promise<IteratorResult<Uint8Array>> } => {
  if (Symbol.asyncIterator in stream) return stream[Symbol.asyncIterator]()
  const reader = stream.getReader()
  return {
    next: async () => {
      const { done, value } = await reader.read()
      return done || value === undefined ? { done: true, value: undefined } : { done: false, value }
    }
  }
}
