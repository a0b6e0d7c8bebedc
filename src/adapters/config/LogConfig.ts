/**
 * How the service logs (LOG_LEVEL, LOG_FORMAT). Read by main only, before
 * the rest of the configuration, so that a bad setting is reported in the
 * chosen format.
 */
import { Config, Either, LogLevel } from "effect"
import { invalid, oneOf } from "./ConfigValues.js"

const LOG_LEVELS: Record<string, LogLevel.LogLevel> = {
  all: LogLevel.All,
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warn: LogLevel.Warning,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  none: LogLevel.None
}

/** LOG_LEVEL: all, trace, debug, info, warn (or warning), error, fatal or none; any case. */
export const LogLevelConfig: Config.Config<LogLevel.LogLevel> = Config.string("LOG_LEVEL").pipe(
  Config.withDefault("info"),
  Config.mapOrFail((text) => {
    const level = LOG_LEVELS[text.trim().toLowerCase()]
    return level === undefined ? invalid("LOG_LEVEL", Object.keys(LOG_LEVELS).join(", "), text) : Either.right(level)
  })
)

export type LogFormat = "logfmt" | "json" | "pretty"

/** LOG_FORMAT: logfmt (default), json (one JSON object per line) or pretty (for a terminal); any case. */
export const LogFormatConfig: Config.Config<LogFormat> = oneOf("LOG_FORMAT", ["logfmt", "json", "pretty"], "logfmt")
