/**
 * Log lines to standard output, written once per turn of the event loop.
 *
 * Through `console.log`, every line is its own write(2), made at once on the
 * event loop's thread, and a busy server logs several lines in one turn (two
 * per upload). Here the lines of a turn are joined and written with one call
 * at the end of it (`setImmediate`). What is still queued when the process
 * exits (a signal, `process.exit`, start-up failing) is written before it
 * does; a crash that skips Node's exit (kill -9, V8 aborting out of memory)
 * loses at most the current turn's lines. The lines are Effect's own logfmt
 * or JSON lines, unchanged, timestamped when logged. Standard error is not
 * batched: merged with standard output, a warning can come before lines
 * logged earlier in its turn.
 */
import { Layer, Logger } from "effect"
import { writeSync } from "node:fs"

/** A writer of lines to `write`, batched per turn; `flushSync` writes the queue now with `writeNow`. */
export const makeWriter = (write: (text: string) => void, writeNow: (text: string) => void) => {
  let queued: Array<string> = []
  const take = (): string | undefined => {
    if (queued.length === 0) return undefined
    const text = queued.join("\n") + "\n"
    queued = []
    return text
  }
  const flush = () => {
    const text = take()
    if (text !== undefined) write(text)
  }
  return {
    line: (line: string) => {
      if (queued.length === 0) setImmediate(flush)
      queued.push(line)
    },
    flushSync: () => {
      const text = take()
      if (text !== undefined) writeNow(text)
    }
  }
}

/** How long the exit's write waits, in all, for a full pipe to take its lines. */
const EXIT_WAIT_MILLIS = 2_000

/**
 * Writes all of `text` to standard output before returning, as a process that
 * is exiting must: a pipe that takes part of it, or is full for a moment
 * (EAGAIN: Node may have made it non-blocking), gets the rest, for up to
 * EXIT_WAIT_MILLIS. A reader that went away (EPIPE) ends it.
 */
const writeAllSync = (text: string) => {
  const bytes = Buffer.from(text)
  const pause = new Int32Array(new SharedArrayBuffer(4))
  let written = 0
  let waited = 0
  while (written < bytes.length) {
    try {
      written += writeSync(1, bytes, written, bytes.length - written)
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== "EAGAIN" || waited >= EXIT_WAIT_MILLIS) return
      Atomics.wait(pause, 0, 0, 1)
      waited++
    }
  }
}

let stdout: ReturnType<typeof makeWriter> | undefined

/** The process's one writer to standard output (made when first needed, flushed on exit). */
const shared = () => {
  if (stdout !== undefined) return stdout
  const writer = makeWriter((text) => process.stdout.write(text), writeAllSync)
  process.on("exit", writer.flushSync)
  // A write to a reader that went away (EPIPE) is an error event: a log line lost, never the process (console
  // ignores them too).
  process.stdout.on("error", () => undefined)
  stdout = writer
  return writer
}

const replacing = (logger: Logger.Logger<unknown, string>): Layer.Layer<never> =>
  Layer.suspend(() => {
    const { line } = shared()
    return Logger.replace(Logger.defaultLogger, Logger.map(logger, line))
  })

/** Effect's logfmt lines (Logger.logFmt's), batched. */
export const logFmt: Layer.Layer<never> = replacing(Logger.logfmtLogger)

/** Effect's JSON lines (Logger.json's), batched. */
export const json: Layer.Layer<never> = replacing(Logger.jsonLogger)
