/**
 * Entry point: reads how to log (LOG_LEVEL, LOG_FORMAT), builds the service
 * layer from the rest of the configuration (Server.ts), runs it until
 * SIGINT/SIGTERM (open sockets are closed with 1001), and exits 0. A bad
 * setting or an unreachable Redis stops start-up with one clear line and
 * exit code 1.
 *
 * Start it with `--initial-old-space-size=96 --max-semi-space-size=1
 * --heap-growing-percent=50` (npm start, the Dockerfile, `file-receiver serve`
 * and the benchmark do): they keep the memory of many open uploads low,
 * where V8's defaults would let garbage pile up. V8 reads them only at
 * start-up, so they cannot be set here; docs/performance.md has the
 * measurements behind each.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, ConfigError, Effect, Either, Layer, Logger, Option } from "effect"
import { formatConfigError } from "./adapters/config/AppConfig.js"
import { type LogFormat, LogFormatConfig, LogLevelConfig } from "./adapters/config/LogConfig.js"
import * as StdoutLines from "./adapters/log/StdoutLines.js"
import * as Server from "./Server.js"

/** One readable line for why start-up failed. */
const describe = (cause: Cause.Cause<unknown>): string =>
  Option.match(Cause.failureOption(cause), {
    onNone: () => Cause.pretty(cause),
    onSome: (error) =>
      ConfigError.isConfigError(error)
        ? `invalid configuration: ${formatConfigError(error)}`
        : error instanceof Error
        ? error.message
        : String(error)
  })

// logfmt and JSON lines are batched per turn of the event loop (see StdoutLines); pretty is for a terminal.
const loggers: Record<LogFormat, Layer.Layer<never>> = {
  logfmt: StdoutLines.logFmt,
  json: StdoutLines.json,
  pretty: Logger.pretty
}

const main = Effect.gen(function*() {
  const format = yield* Effect.either(LogFormatConfig)
  return yield* Effect.gen(function*() {
    if (Either.isLeft(format)) return yield* Effect.fail(format.left)
    const level = yield* LogLevelConfig
    return yield* Layer.launch(Server.layer).pipe(Logger.withMinimumLogLevel(level))
  }).pipe(
    Effect.tapErrorCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logFatal(`start-up failed: ${describe(cause)}`)
    ),
    Effect.provide(loggers[Either.getOrElse(format, () => "logfmt" as const)])
  )
})

NodeRuntime.runMain(main, { disablePrettyLogger: true, disableErrorReporting: true })
