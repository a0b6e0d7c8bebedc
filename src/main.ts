/**
 * Entry point: reads configuration, builds the service layer, runs it until
 * SIGINT/SIGTERM (open sockets are closed with 1001), and exits 0. A bad
 * setting or an unreachable Redis stops start-up with one clear line and
 * exit code 1.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, ConfigError, Effect, Layer, Logger, Option } from "effect"
import { formatConfigError, LogLevelConfig } from "./adapters/config/AppConfig.js"
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

const main = Effect.gen(function*() {
  const level = yield* LogLevelConfig
  return yield* Layer.launch(Server.layer).pipe(Logger.withMinimumLogLevel(level))
}).pipe(
  Effect.tapErrorCause((cause) =>
    Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logFatal(`start-up failed: ${describe(cause)}`)
  ),
  Effect.provide(Logger.logFmt)
)

NodeRuntime.runMain(main, { disablePrettyLogger: true, disableErrorReporting: true })
