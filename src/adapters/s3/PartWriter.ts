/**
 * The bytes of one upload on their way into an S3 multipart upload, with
 * bounded memory: appended bytes collect in a buffer until it holds
 * `partSize` bytes, which then goes out as the next part while the buffer
 * fills again. Up to `concurrency` parts are in flight at once (S3 takes
 * parts in any order); an append that fills the buffer while that many are
 * still uploading waits for one of them. Memory per upload is therefore
 * about `concurrency + 1` parts (plus one chunk), whatever the file size. The
 * multipart upload itself is only created when the first part is ready, so a
 * file smaller than one part never becomes one (see `finish`).
 * A failed part is kept and fails every later call.
 */
import { release } from "../Release.js"

/** The S3 calls a writer needs; `S3FileStore` binds them to one staging key. */
export interface PartTarget {
  /** Starts the multipart upload; its upload id. */
  readonly create: () => Promise<string>
  /** Uploads part `partNumber`; its ETag. */
  readonly uploadPart: (uploadId: string, partNumber: number, body: Buffer) => Promise<string>
}

export interface UploadedPart {
  readonly PartNumber: number
  readonly ETag: string
}

/** What `finish` leaves: the whole file in memory (below one part), or a multipart upload ready to complete. */
export type Finished =
  | { readonly _tag: "Small"; readonly body: Buffer }
  | { readonly _tag: "Multipart"; readonly uploadId: string; readonly parts: ReadonlyArray<UploadedPart> }

export interface PartWriter {
  /** Buffers `bytes`; undefined when taken at once, else a promise for when the buffer is free again. Throws after a failure or once closed. */
  readonly write: (bytes: Uint8Array) => Promise<void> | undefined
  /** Bytes written so far (uploaded or buffered). */
  readonly written: () => number
  /** Uploads what is buffered as the last part (if a multipart upload was started) and closes the writer. */
  readonly finish: () => Promise<Finished>
  /** Drops the buffer, waits for the part in flight and closes the writer; the multipart upload id to abort, if one was started. Never rejects. */
  readonly destroy: () => Promise<string | undefined>
  /**
   * What S3 already holds of a writer that failed or was destroyed: the
   * multipart upload and its parts uploaded so far without a gap (parts
   * 1 to n: a part uploaded after one that failed is left out), which are
   * the first `bytes` bytes. Undefined when no part was uploaded. Call it
   * after `destroy`, so no part is in flight.
   */
  readonly uploaded: () => Stranded | undefined
}

/** The parts a failed writer left in S3: completing them makes an object of the first `bytes` bytes. */
export interface Stranded {
  readonly uploadId: string
  readonly parts: ReadonlyArray<UploadedPart>
  readonly bytes: number
}

export const make = (target: PartTarget, partSize: number, concurrency = 1): PartWriter => {
  let chunks: Array<Uint8Array> = []
  let buffered = 0
  let written = 0
  let closed = false
  let failure: unknown = undefined
  let uploadId: Promise<string> | undefined
  /** The multipart upload id once S3 gave it. */
  let createdId: string | undefined
  const inFlight = new Set<Promise<void>>()
  let partsSent = 0
  /** Bodies of parts uploaded, free again: the next parts are copied into them. */
  let spares: Array<Buffer> = []
  /** Parts uploaded, by part number (they may finish in any order). */
  const parts = new Map<number, UploadedPart & { readonly bytes: number }>()

  /** Moves the first `size` buffered bytes into one part body (a spare one when it fits). */
  const takeBody = (size: number): Buffer => {
    const spare = spares.pop()
    const body = spare !== undefined && spare.length === size ? spare : Buffer.allocUnsafe(size)
    let filled = 0
    while (filled < size) {
      const chunk = chunks[0]!
      const length = Math.min(chunk.length, size - filled)
      body.set(length === chunk.length ? chunk : chunk.subarray(0, length), filled)
      filled += length
      if (length === chunk.length) {
        chunks.shift()
        // Copied into the part: the chunk is ours (FileStore.append), so free it now (see Release).
        release(chunk)
      } else {
        chunks[0] = chunk.subarray(length)
      }
    }
    buffered -= size
    return body
  }

  /** Sends the next part (a full one, or what is left for the last one), in the background. */
  const sendPart = () => {
    const body = takeBody(Math.min(buffered, partSize))
    const partNumber = ++partsSent
    uploadId ??= target.create().then((id) => (createdId = id))
    const sending: Promise<void> = uploadId
      .then((id) => target.uploadPart(id, partNumber, body))
      .then(
        (ETag) => {
          parts.set(partNumber, { PartNumber: partNumber, ETag, bytes: body.length })
          if (spares.length < concurrency) spares.push(body)
        },
        (error: unknown) => void (failure ??= error)
      )
      .finally(() => {
        inFlight.delete(sending)
      })
    inFlight.add(sending)
  }

  /** Parts 1 to n without a gap: the first bytes of the file. */
  const contiguous = (): Array<UploadedPart & { readonly bytes: number }> => {
    const prefix: Array<UploadedPart & { readonly bytes: number }> = []
    for (let number = 1; parts.has(number); number++) prefix.push(parts.get(number)!)
    return prefix
  }
  const allSent = () => Promise.all(inFlight)

  const check = () => {
    if (failure !== undefined) throw failure
    if (closed) throw new Error("the partial upload is closed")
  }

  return {
    write: (bytes) => {
      check()
      if (bytes.length > 0) {
        chunks.push(bytes)
        buffered += bytes.length
        written += bytes.length
      }
      while (buffered >= partSize && inFlight.size < concurrency) sendPart()
      return buffered < partSize ? undefined : sendFullParts()
    },
    written: () => written,
    finish: async () => {
      check()
      closed = true
      await allSent()
      if (failure !== undefined) throw failure
      if (uploadId === undefined && buffered < partSize) return { _tag: "Small", body: Buffer.concat(chunks, buffered) }
      while (buffered > 0) {
        if (inFlight.size >= concurrency) await Promise.race(inFlight)
        if (failure !== undefined) throw failure
        sendPart()
      }
      await allSent()
      // No part is written after this one: the spare bodies are garbage (a large copy streamed after a finish must not hold them).
      spares = []
      if (failure !== undefined) throw failure
      const sent = contiguous()
      if (sent.length !== partsSent) throw new Error(`${partsSent - sent.length} parts of the multipart upload are missing`)
      return { _tag: "Multipart", uploadId: await uploadId!, parts: sent.map(({ ETag, PartNumber }) => ({ PartNumber, ETag })) }
    },
    destroy: async () => {
      closed = true
      chunks = []
      buffered = 0
      spares = []
      await allSent()
      return uploadId?.catch(() => undefined)
    },
    uploaded: () => {
      const sent = contiguous()
      return createdId === undefined || sent.length === 0
        ? undefined
        : { uploadId: createdId, parts: sent.map(({ ETag, PartNumber }) => ({ PartNumber, ETag })), bytes: sent.reduce((n, part) => n + part.bytes, 0) }
    }
  }

  /** Sends full parts as parts in flight finish, until less than a part is buffered. */
  async function sendFullParts(): Promise<void> {
    while (buffered >= partSize) {
      await Promise.race(inFlight)
      check()
      while (buffered >= partSize && inFlight.size < concurrency) sendPart()
    }
  }
}
