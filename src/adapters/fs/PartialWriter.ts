/**
 * The writer of one partial file. A write is done when the operating system
 * has the bytes (write(2) returned for all of them): from then on they
 * survive a crash of this process, so a reply that counts them is true.
 * Writes run one after another, in the order they were asked for, so at
 * most one chunk per upload waits for the disk: memory is bounded by a chunk.
 * A write error is kept and fails every later call, so a file with a lost
 * write is never published.
 *
 * With `syncEveryBytes`, the file is flushed to stable storage in the
 * background (fdatasync(2), alongside the writes, never holding them up)
 * each time that many bytes were written since the last flush, so the
 * fsync that completes a synced upload has only the tail left to flush
 * instead of the whole file.
 *
 * Each chunk's memory is released as soon as it is on disk (see Release):
 * a chunk that waited long enough to reach V8's old generation would
 * otherwise stay allocated until the next full collection.
 */
import { release } from "../Release.js"
import type { File } from "./FsCalls.js"

export interface PartialWriter {
  /**
   * Writes `bytes` after everything written so far; resolves once all of them are written. Rejects after a failure
   * or once closed. `alongside` runs once the first write(2) of them is under way, before they are freed.
   */
  readonly write: (bytes: Uint8Array, alongside?: () => void) => Promise<void>
  /**
   * Waits for the writes asked for, flushes the file to stable storage when
   * `sync` (fsync(2): it then survives a power cut), and closes it; rejects
   * with the first write error.
   */
  readonly finish: (options?: { readonly sync?: boolean }) => Promise<void>
  /** Closes the file once the writes in progress are over. Never rejects. */
  readonly destroy: () => Promise<void>
}

/** The writer of `handle`, a file opened for appending (O_APPEND); it takes the handle over and closes it. */
export const fromHandle = (handle: File, options: { readonly syncEveryBytes?: number } = {}): PartialWriter => {
  let failure: unknown
  let closed = false
  let unsynced = 0
  /** The background flush in progress, if any (its errors surface in the final fsync). */
  let flushing: Promise<void> | undefined
  const written = (bytes: number) => {
    const every = options.syncEveryBytes
    if (every === undefined) return
    unsynced += bytes
    if (unsynced < every || flushing !== undefined) return
    unsynced = 0
    // A writeback error is reported to one flush only (the kernel then marks the pages clean): it is kept, so the
    // next write and the final fsync fail with it instead of publishing a file that lost data.
    flushing = handle.datasync().catch((cause: unknown) => {
      failure ??= cause
    }).finally(() => {
      flushing = undefined
    })
  }
  /** The last write asked for: the next one starts when it is over. */
  let tail: Promise<void> = Promise.resolve()
  let closing: Promise<void> | undefined
  const close = () => (closing ??= handle.close().catch(() => undefined))

  return {
    write: (bytes, alongside) => {
      if (failure !== undefined) return Promise.reject(failure)
      if (closed) return Promise.reject(new Error("the partial file is closed"))
      const done = tail.then(() => {
        if (failure !== undefined) throw failure
        // write(2) is issued (in the thread pool) before writeAll first waits: `alongside` runs meanwhile.
        const writing = handle.writeAll(bytes)
        alongside?.()
        return writing
      }).then(
        () => {
          written(bytes.length)
          release(bytes)
        },
        (cause: unknown) => {
          failure ??= cause
          throw failure
        }
      )
      // The next write waits for this one, whether it worked or not (it then fails with this one's error).
      tail = done.catch(() => undefined)
      return done
    },
    finish: async (options) => {
      closed = true
      await tail
      await flushing
      try {
        if (failure !== undefined) throw failure
        if (options?.sync === true) await handle.sync()
      } finally {
        await close()
      }
    },
    destroy: async () => {
      closed = true
      await tail
      await flushing
      await close()
    }
  }
}
