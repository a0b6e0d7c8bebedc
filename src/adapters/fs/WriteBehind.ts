/**
 * Write-behind for one partial file: appends go into a bounded write stream
 * and are acknowledged as soon as the stream accepts them, so decoding the
 * next chunk overlaps with writing this one. When more than `highWaterMark`
 * bytes are waiting for the disk, `write` returns a promise that settles once
 * they drain: memory stays bounded by one chunk plus the high-water mark.
 * A write error is kept and fails every later call, so a file with a lost
 * write is never published.
 */
import type * as fs from "node:fs/promises"
import type { WriteStream } from "node:fs"

export interface WriteBehind {
  /** Queues `bytes`; undefined when accepted at once, else a promise for the drain. Throws after a failure. */
  readonly write: (bytes: Uint8Array) => Promise<void> | undefined
  /** Flushes everything, closes the file; rejects with the first write error. */
  readonly finish: () => Promise<void>
  /** Drops what is queued and closes the file. Never rejects. */
  readonly destroy: () => Promise<void>
}

const closed = (stream: WriteStream): Promise<void> =>
  new Promise((resolve) => (stream.closed ? resolve() : stream.once("close", () => resolve())))

export const make = (handle: fs.FileHandle, highWaterMark: number): WriteBehind => {
  const stream = handle.createWriteStream({ highWaterMark }) as unknown as WriteStream
  let failure: Error | undefined
  stream.on("error", (error) => {
    failure ??= error
  })

  const drained = () =>
    new Promise<void>((resolve, reject) => {
      const onDrain = () => {
        stream.off("close", onClose)
        resolve()
      }
      const onClose = () => {
        stream.off("drain", onDrain)
        reject(failure ?? new Error("the partial file was closed"))
      }
      stream.once("drain", onDrain)
      stream.once("close", onClose)
    })

  return {
    write: (bytes) => {
      if (failure !== undefined) throw failure
      return stream.write(bytes) ? undefined : drained()
    },
    finish: async () => {
      if (!stream.writableEnded) stream.end()
      await closed(stream)
      if (failure !== undefined) throw failure
    },
    destroy: async () => {
      stream.destroy()
      await closed(stream)
    }
  }
}
