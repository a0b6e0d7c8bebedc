/**
 * The service's configuration, read from environment variables with effect's
 * Config (same names and defaults as the original service). A bad value fails
 * with a ConfigError naming the variable and the value.
 */
import { Config, ConfigError, Either, LogLevel, Option, Redacted } from "effect"
import { EventsConfig } from "./EventsConfig.js"

const MiB = 1024 * 1024

const invalid = (name: string, expectation: string, value: unknown) =>
  Either.left(ConfigError.InvalidData([name], `expected ${expectation}, got "${String(value)}"`))

/** An integer variable within [min, max]. */
const integerBetween = (name: string, min: number, max: number, fallback: number): Config.Config<number> =>
  Config.string(name).pipe(
    Config.withDefault(String(fallback)),
    Config.mapOrFail((text) => {
      const value = Number(text.trim())
      return /^\d+$/.test(text.trim()) && Number.isSafeInteger(value) && value >= min && value <= max
        ? Either.right(value)
        : invalid(name, `an integer from ${min} to ${max}`, text)
    })
  )

/** A string variable that must not be blank. */
const nonBlank = (name: string, fallback: string, expectation: string): Config.Config<string> =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((text) => (text.trim() === "" ? invalid(name, expectation, text) : Either.right(text.trim())))
  )

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

/** LOG_FORMAT: logfmt (default), json (one JSON object per line) or pretty (for a terminal). */
export const LogFormatConfig: Config.Config<LogFormat> = Config.literal("logfmt", "json", "pretty")("LOG_FORMAT").pipe(
  Config.withDefault("logfmt" as const)
)

/** Parses `txt,pdf` or `["txt", "pdf"]` into lower-case extensions without dots. */
export const parseExtensions = (text: string): Either.Either<ReadonlyArray<string>, string> => {
  let items: ReadonlyArray<unknown>
  if (text.trim().startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(text)
      if (!Array.isArray(parsed)) return Either.left("a JSON list of strings")
      items = parsed
    } catch {
      return Either.left("a JSON list of strings")
    }
  } else {
    items = text.split(",")
  }
  const extensions: Array<string> = []
  for (const item of items) {
    if (typeof item !== "string") return Either.left("extensions as strings")
    const extension = item.trim().replace(/^\./, "").toLowerCase()
    if (!/^[\p{L}\p{N}_-]+$/u.test(extension)) {
      return Either.left("a comma-separated list of extensions made of letters and digits, like txt,pdf")
    }
    if (!extensions.includes(extension)) extensions.push(extension)
  }
  return extensions.length === 0 ? Either.left("at least one extension") : Either.right(extensions)
}

export interface AppConfig {
  readonly host: string
  readonly port: number
  readonly logLevel: LogLevel.LogLevel
  readonly saveDirectory: string
  readonly maxFileBytes: number
  readonly maxChunkBytes: number
  readonly allowedExtensions: ReadonlyArray<string>
  readonly redisUrl: Option.Option<Redacted.Redacted<string>>
  /** Where unfinished uploads are remembered; default redis with REDIS_URL, else filesystem. */
  readonly uploadRegistry: "memory" | "filesystem" | "redis"
  /** Seconds an unfinished upload is kept after its last chunk. */
  readonly uploadExpirySeconds: number
  readonly redisKeyPrefix: string
  /** Seconds shutdown waits for clients to acknowledge the 1001 close before cutting them off. */
  readonly shutdownGraceSeconds: number
  /** Seconds between WebSocket pings; a peer that misses one is disconnected. */
  readonly heartbeatSeconds: number
  /** Reverse proxies in front whose X-Forwarded-For is believed (0: none). */
  readonly trustProxy: number
  readonly rateLimit: {
    readonly keyPrefix: string
    readonly periodSeconds: number
    readonly perPeriod: number
  }
  /** Upload events (webhook, Redis stream) and the pre-upload hook. */
  readonly events: EventsConfig
}

export const DEFAULT_EXTENSIONS = "txt,pdf,png,jpg,jpeg,gif"

const Settings = Config.all({
  host: nonBlank("HOST", "127.0.0.1", "a host name or address, like 127.0.0.1 or 0.0.0.0"),
  port: integerBetween("PORT", 0, 65535, 8000),
  logLevel: LogLevelConfig,
  saveDirectory: nonBlank("FILE_SAVE_DIRECTORY", "uploaded_files", "a directory path"),
  maxFileBytes: integerBetween("FILE_MAX_SIZE", 0, Math.floor(Number.MAX_SAFE_INTEGER / MiB), 20).pipe(
    Config.map((mebibytes) => mebibytes * MiB)
  ),
  maxChunkBytes: integerBetween("MAX_CHUNK_BYTES", 1, 64 * MiB, MiB),
  allowedExtensions: Config.string("FILE_ALLOWED_EXTENSIONS").pipe(
    Config.withDefault(DEFAULT_EXTENSIONS),
    Config.mapOrFail((text) =>
      Either.mapLeft(
        parseExtensions(text),
        (expectation) => ConfigError.InvalidData(["FILE_ALLOWED_EXTENSIONS"], `expected ${expectation}, got "${text}"`)
      )
    )
  ),
  redisUrl: Config.option(Config.redacted("REDIS_URL")).pipe(
    // An empty REDIS_URL means "no Redis", as if it were unset.
    Config.map(Option.filter((url) => Redacted.value(url).trim() !== ""))
  ),
  uploadRegistry: Config.option(Config.literal("memory", "filesystem", "redis")("UPLOAD_REGISTRY")),
  uploadExpirySeconds: integerBetween("UPLOAD_EXPIRY", 1, 365 * 24 * 3600, 24 * 3600),
  redisKeyPrefix: nonBlank("REDIS_KEY_PREFIX", "file_receiver", "a non-empty Redis key prefix"),
  shutdownGraceSeconds: integerBetween("SHUTDOWN_GRACE", 0, 3600, 10),
  heartbeatSeconds: integerBetween("HEARTBEAT_INTERVAL", 1, 3600, 15),
  trustProxy: integerBetween("TRUST_PROXY", 0, 10, 0),
  rateLimit: Config.all({
    keyPrefix: nonBlank("RATE_LIMIT_KEY_PREFIX", "rate_limit", "a non-empty Redis key prefix"),
    periodSeconds: integerBetween("RATE_LIMIT_PERIOD", 1, 365 * 24 * 3600, 60),
    perPeriod: integerBetween("RATE_LIMIT_PER_PERIOD", 1, Number.MAX_SAFE_INTEGER, 1000)
  }),
  events: EventsConfig
})

export const AppConfig: Config.Config<AppConfig> = Settings.pipe(
  Config.mapOrFail(({ uploadRegistry, ...settings }) =>
    Option.match(uploadRegistry, {
      onNone: () => Either.right({ ...settings, uploadRegistry: Option.isSome(settings.redisUrl) ? "redis" as const : "filesystem" as const }),
      onSome: (choice) =>
        choice === "redis" && Option.isNone(settings.redisUrl)
          ? Either.left(ConfigError.InvalidData(["UPLOAD_REGISTRY"], `expected REDIS_URL to be set for "redis", got "${choice}"`))
          : Either.right({ ...settings, uploadRegistry: choice })
    }))
)

/** One line per problem, `NAME: what is wrong`, for start-up errors. */
export const formatConfigError = (error: ConfigError.ConfigError): string => {
  switch (error._op) {
    case "And":
    case "Or":
      return `${formatConfigError(error.left)}; ${formatConfigError(error.right)}`
    case "InvalidData":
    case "MissingData":
    case "SourceUnavailable":
    case "Unsupported":
      return `${error.path.join(".")}: ${error.message}`
  }
}
