/**
 * Entry point: reads configuration, builds the service layer, runs it until
 * SIGINT/SIGTERM (open sockets are closed with 1001), and exits 0. A bad
 * setting or an unreachable Redis stops start-up with one clear line and
 * exit code 1.
 *
 * Start it with `--initial-old-space-size=96` (npm start, the Dockerfile and
 * the benchmark do): without a floor, V8 sizes the old generation from the
 * small live heap after start-up, and the chunk buffers' external memory then
 * starts a mark-compact every ~20 MB of traffic (about 70 per GiB; 18 with
 * the floor). V8 reads that flag only at start-up, so it cannot be set here.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, ConfigError, Effect, Either, Layer, Logger, Option } from "effect"
import { formatConfigError, type LogFormat, LogFormatConfig, LogLevelConfig } from "./adapters/config/AppConfig.js"
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

const loggers: Record<LogFormat, Layer.Layer<never>> = {
  logfmt: Logger.logFmt,
  json: Logger.json,
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
