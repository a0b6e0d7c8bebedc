/**
 * Entry point: reads configuration, builds the service layer, runs it until
 * SIGINT/SIGTERM (open sockets are closed with 1001), and exits 0. A bad
 * setting or an unreachable Redis stops start-up with one clear line and
 * exit code 1.
 *
 * Start it with `--initial-old-space-size=96 --max-semi-space-size=1
 * --heap-growing-percent=50` (npm start, the Dockerfile, `file-receiver serve`
 * and the benchmark do). Without the floor, V8 sizes the old generation from
 * the small live heap after start-up, and the external memory of socket reads
 * and chunks then starts a mark-compact every few megabytes (53 per GiB, 8 in
 * flight; none with the floor, now that the store frees each chunk once
 * written). The young generation holds little beyond one frame's objects, so
 * 1 MB semi-spaces keep the peak lower at no cost in throughput. Once past the
 * floor, V8 lets the old generation grow to up to 4 times what the last full
 * collection left alive before it collects again (it picks the factor from how
 * cheap collections are). With many connections open that is over a hundred
 * megabytes of garbage: 1,000 uploads at once peaked at 389-397 MB with about
 * 60 MB alive. The third flag fixes the factor at 1.5 (208-218 MB, with the same
 * throughput elsewhere). V8 reads these flags only at start-up, so they cannot
 * be set here.
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
