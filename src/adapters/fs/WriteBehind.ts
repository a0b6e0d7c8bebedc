/**
 * Write-behind for one partial file: appends go into a bounded write stream
 * and are acknowledged as soon as the stream accepts them, so decoding the
 * next chunk overlaps with writing this one. When more than `highWaterMark`
 * bytes are waiting for the disk, `write` returns a promise that settles once
 * they drain: memory stays bounded by one chunk plus the high-water mark.
 * A write error is kept and fails every later call, so a file with a lost
 * write is never published.
 *
 * Each chunk's memory is released as soon as it is on disk (see Release):
 * a chunk that waited long enough to reach V8's old generation would
 * otherwise stay allocated until the next full collection.
 */
import { createWriteStream, type WriteStream } from "node:fs"
import { release } from "../Release.js"

export interface WriteBehind {
  /** Queues `bytes`; undefined when accepted at once, else a promise for the drain. Throws after a failure or once closed. */
  readonly write: (bytes: Uint8Array) => Promise<void> | undefined
  /** Flushes everything, closes the file; rejects with the first write error. */
  readonly finish: () => Promise<void>
  /** Drops what is queued and closes the file. Never rejects. */
  readonly destroy: () => Promise<void>
}

const closed = (stream: WriteStream): Promise<void> =>
  new Promise((resolve) => (stream.closed ? resolve() : stream.once("close", () => resolve())))

/**
 * Opens `path` (by default creating it and failing if it exists, O_EXCL) and
 * returns its writer once open; given `fd`, a descriptor the caller opened
 * (and checked) for writing, it writes there instead, takes the descriptor
 * over and closes it, and `path`, `flags` and `mode` are unused.
 */
export const create = (
  path: string,
  options: { readonly highWaterMark: number; readonly mode: number; readonly flags?: string | number; readonly fd?: number }
): Promise<WriteBehind> =>
  new Promise((resolve, reject) => {
    const stream = createWriteStream(path, {
      // Node passes flags to open(2); numeric flags (O_APPEND without O_CREAT) work, though the types only name strings.
      flags: (options.flags ?? "wx") as string,
      mode: options.mode,
      highWaterMark: options.highWaterMark,
      ...(options.fd === undefined ? {} : { fd: options.fd })
    })
    let failure: Error | undefined
    const onOpenError = (error: Error) => reject(error)
    stream.once("error", onOpenError)
    stream.on("error", (error) => {
      failure ??= error
    })

    const drained = () =>
      new Promise<void>((resolveDrain, rejectDrain) => {
        const onDrain = () => {
          stream.off("close", onClose)
          resolveDrain()
        }
        const onClose = () => {
          stream.off("drain", onDrain)
          rejectDrain(failure ?? stream.errored ?? new Error("the partial file was closed"))
        }
        stream.once("drain", onDrain)
        stream.once("close", onClose)
      })

    // A stream given a descriptor is ready at once: it emits no "ready".
    const ready = options.fd === undefined ? new Promise<void>((onReady) => stream.once("ready", () => onReady())) : Promise.resolve()
    void ready.then(() => {
      stream.off("error", onOpenError)
      resolve({
        write: (bytes) => {
          // The stream is destroyed at once on a write error, but says why only a tick later: ask it.
          const failed = failure ?? stream.errored ?? undefined
          if (failed) throw failed
          // A closed stream would take the bytes and never report back.
          if (stream.writableEnded || stream.destroyed) throw new Error("the partial file is closed")
          return stream.write(bytes, () => release(bytes)) ? undefined : drained()
        },
        finish: async () => {
          if (!stream.writableEnded) stream.end()
          await closed(stream)
          const failed = failure ?? stream.errored ?? undefined
          if (failed) throw failed
        },
        destroy: async () => {
          stream.destroy()
          await closed(stream)
        }
      })
    })
  })
