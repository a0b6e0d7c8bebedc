/**
 * Entry point: reads configuration, builds the service layer, runs it until
 * SIGINT/SIGTERM (open sockets are closed with 1001), and exits 0. A bad
 * setting or an unreachable Redis stops start-up with one clear line and
 * exit code 1.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, ConfigError, Effect, Either, Layer, Logger, Option } from "effect"
import { formatConfigError, type LogFormat, LogFormatConfig, LogLevelConfig } from "./adapters/config/AppConfig.js"
import * as Server from "./Server.js"
import * as v8 from "node:v8"

// Chunk buffers churn through V8's external memory. After a few quick
// mark-compacts V8 shrinks its heap growth factor, and from then on every few
// MB of traffic triggers another full collection (over a hundred per GiB).
// Keeping the growth factor up cuts those several-fold and raises binary
// throughput by 30-70% (npm run bench, scenarios 3, 4 and 5a), at the price
// of more garbage held between collections under many concurrent uploads.
v8.setFlagsFromString("--heap-growing-percent=200")

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
