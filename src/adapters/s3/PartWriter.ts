/**
 * The bytes of one upload on their way into an S3 multipart upload, with
 * bounded memory: appended bytes collect in a buffer until it holds
 * `partSize` bytes, which then goes out as the next part while the buffer
 * fills again. At most one part is in flight: an append that fills the buffer
 * while a part is still uploading waits for that part. Memory per upload is
 * therefore about two parts (plus one chunk), whatever the file size. The
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
   * multipart upload and its parts uploaded so far, which are the first
   * `bytes` bytes. Undefined when no part was uploaded. Call it after
   * `destroy`, so no part is in flight.
   */
  readonly uploaded: () => Stranded | undefined
}

/** The parts a failed writer left in S3: completing them makes an object of the first `bytes` bytes. */
export interface Stranded {
  readonly uploadId: string
  readonly parts: ReadonlyArray<UploadedPart>
  readonly bytes: number
}

export const make = (target: PartTarget, partSize: number): PartWriter => {
  let chunks: Array<Uint8Array> = []
  let buffered = 0
  let written = 0
  let closed = false
  let failure: unknown = undefined
  let uploadId: Promise<string> | undefined
  /** The multipart upload id once S3 gave it. */
  let createdId: string | undefined
  let inFlight: Promise<void> | undefined
  let partsSent = 0
  /** The body of the last part sent, free again once it is uploaded: the next part is copied into it. */
  let spare: Buffer | undefined
  const parts: Array<UploadedPart> = []
  /** Bytes in `parts`. */
  let uploadedBytes = 0

  /** Moves the first `size` buffered bytes into one part body (the spare one when it fits). */
  const takeBody = (size: number): Buffer => {
    const body = spare !== undefined && spare.length === size ? spare : Buffer.allocUnsafe(size)
    spare = undefined
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
    inFlight = uploadId
      .then((id) => target.uploadPart(id, partNumber, body))
      .then(
        (ETag) => {
          parts.push({ PartNumber: partNumber, ETag })
          uploadedBytes += body.length
          spare = body
        },
        (error: unknown) => void (failure ??= error)
      )
      .finally(() => {
        inFlight = undefined
      })
  }

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
      if (buffered < partSize) return undefined
      if (inFlight === undefined) sendPart()
      return buffered < partSize ? undefined : sendFullParts()
    },
    written: () => written,
    finish: async () => {
      check()
      closed = true
      await inFlight
      if (failure !== undefined) throw failure
      if (uploadId === undefined && buffered < partSize) return { _tag: "Small", body: Buffer.concat(chunks, buffered) }
      while (buffered > 0) {
        sendPart()
        await inFlight
        if (failure !== undefined) throw failure
      }
      return { _tag: "Multipart", uploadId: await uploadId!, parts: [...parts] }
    },
    destroy: async () => {
      closed = true
      chunks = []
      buffered = 0
      spare = undefined
      await inFlight
      return uploadId?.catch(() => undefined)
    },
    uploaded: () => (createdId === undefined || parts.length === 0 ? undefined : { uploadId: createdId, parts: [...parts], bytes: uploadedBytes })
  }

  /** Sends full parts, each once the one before is uploaded, until less than a part is buffered. */
  async function sendFullParts(): Promise<void> {
    while (buffered >= partSize) {
      await inFlight
      check()
      sendPart()
    }
  }
}
