/**
 * Server logs in tests, kept back so that a passing run stays short: the
 * in-process servers of `startServer` log into `keep`, child processes of
 * `run` hand it their output, Effect's default logger (it.live tests) is
 * caught by the setup file (test/support/setup.ts), which prints what was
 * kept when a test fails, then forgets it after each test.
 * TEST_LOG_LEVEL (debug, info, warn, ...) prints server logs as they come
 * instead, and sets the in-process servers' level (else info).
 */
import { ConfigProvider, Effect, type Layer, Logger, LogLevel } from "effect"
import { LogLevelConfig } from "../../src/adapters/config/AppConfig.js"

const requested = process.env["TEST_LOG_LEVEL"]

/** Whether logs are printed as they come (TEST_LOG_LEVEL is set) rather than kept for a failure. */
export const live = requested !== undefined && requested.trim() !== ""

/** The level of in-process servers: TEST_LOG_LEVEL, else info (kept, so a failure shows what led to it). */
export const level: LogLevel.LogLevel = live
  ? Effect.runSync(LogLevelConfig.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["LOG_LEVEL", requested!]])))))
  : LogLevel.Info

/** What each source (a server or a process of the current test) logged, in order. */
const kept = new Map<string, Array<string>>()

/** Keeps `text` (lines, or a chunk of a process's output) from `source` for the current test, or prints it at once when `live`. */
export const keep = (source: string, text: string): void => {
  if (live) {
    process.stdout.write(text.replace(/^(?=.)/gm, `[${source}] `))
    return
  }
  const lines = kept.get(source)
  if (lines === undefined) kept.set(source, [text])
  else lines.push(text)
}

let servers = 0

/** A logger (in logfmt, as the service's default) into `keep`, under a new source `name #n`. */
export const logger = (name: string): Layer.Layer<never> => {
  const source = `${name} #${++servers}`
  return Logger.replace(Logger.defaultLogger, Logger.make((options) => keep(source, `${Logger.logfmtLogger.log(options)}\n`)))
}

/** Everything kept since the last `forget`, one block per source; "" when nothing was. */
export const keptText = (): string =>
  [...kept].map(([source, chunks]) => {
    const text = chunks.join("")
    return `--- ${source} ---\n${text.endsWith("\n") ? text : `${text}\n`}`
  }).join("")

export const forget = (): void => kept.clear()
