/**
 * Log lines to standard output, written once per turn of the event loop.
 *
 * Node writes to a pipe or a file synchronously: through `console.log`,
 * every line is a write(2) the event loop waits for, and a busy server logs
 * several lines in one turn (two per upload). Here the lines of a turn are
 * joined and written with one call at the end of it (`setImmediate`), and
 * whatever is still queued when the process exits is written before it does,
 * so a line is never lost on a normal exit (a crash of the process can lose
 * at most the current turn's lines). The lines are Effect's own logfmt or
 * JSON lines, unchanged.
 */
import { Layer, Logger } from "effect"
import { writeSync } from "node:fs"

/** A writer of lines to `write`, batched per turn; `flushSync` writes the queue now with `writeNow`. */
export const makeWriter = (
  write: (text: string) => void,
  writeNow: (text: string) => void,
  schedule: (flush: () => void) => void = (flush) => void setImmediate(flush)
) => {
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
      if (queued.length === 0) schedule(flush)
      queued.push(line)
    },
    flushSync: () => {
      const text = take()
      if (text !== undefined) writeNow(text)
    }
  }
}

let stdout: ReturnType<typeof makeWriter> | undefined

/** The process's one writer to standard output (made when first needed, flushed on exit). */
const shared = () => {
  if (stdout !== undefined) return stdout
  const writer = makeWriter(
    (text) => process.stdout.write(text),
    (text) => {
      try {
        writeSync(1, text)
      } catch {
        // Standard output is gone (a closed pipe): nothing left to tell.
      }
    }
  )
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
