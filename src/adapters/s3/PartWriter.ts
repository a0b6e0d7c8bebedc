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
}

export const make = (target: PartTarget, partSize: number): PartWriter => {
  let chunks: Array<Uint8Array> = []
  let buffered = 0
  let written = 0
  let closed = false
  let failure: unknown = undefined
  let uploadId: Promise<string> | undefined
  let inFlight: Promise<void> | undefined
  let partsSent = 0
  const parts: Array<UploadedPart> = []

  /** Sends the buffer as the next part, in the background. */
  const sendBuffer = () => {
    const body = Buffer.concat(chunks, buffered)
    const partNumber = ++partsSent
    chunks = []
    buffered = 0
    uploadId ??= target.create()
    const started = uploadId
    inFlight = started
      .then((id) => target.uploadPart(id, partNumber, body))
      .then(
        (ETag) => void parts.push({ PartNumber: partNumber, ETag }),
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
      if (inFlight === undefined) return void sendBuffer()
      return inFlight.then(() => {
        check()
        sendBuffer()
      })
    },
    written: () => written,
    finish: async () => {
      check()
      closed = true
      await inFlight
      if (failure !== undefined) throw failure
      if (uploadId === undefined) return { _tag: "Small", body: Buffer.concat(chunks, buffered) }
      if (buffered > 0) sendBuffer()
      await inFlight
      if (failure !== undefined) throw failure
      return { _tag: "Multipart", uploadId: await uploadId, parts: [...parts] }
    },
    destroy: async () => {
      closed = true
      chunks = []
      buffered = 0
      await inFlight
      return uploadId?.catch(() => undefined)
    }
  }
}
