/**
 * The service's configuration, read from environment variables with effect's
 * Config (same names and defaults as the original service). A bad value fails
 * with a ConfigError naming the variable and the value. Choices (STORAGE,
 * LOG_LEVEL, ...) are read in any case; an empty optional setting counts as unset.
 */
import { Config, ConfigError, Either, LogLevel, Option, Redacted } from "effect"
import * as ClientAddress from "../http/ClientAddress.js"
import { SecurityConfig } from "./SecurityConfig.js"
import { integerBetween, invalid, oneOf, optionalSecret, parseBoolean, parseChoice, parseIntegerBetween } from "./ConfigValues.js"
import { EventsConfig } from "./EventsConfig.js"

const MiB = 1024 * 1024

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

/** LOG_FORMAT: logfmt (default), json (one JSON object per line) or pretty (for a terminal); any case. */
export const LogFormatConfig: Config.Config<LogFormat> = oneOf("LOG_FORMAT", ["logfmt", "json", "pretty"], "logfmt")

/** An on/off switch, in any case. */
const onOff = (name: string, fallback: "on" | "off"): Config.Config<boolean> =>
  oneOf(name, ["on", "off"], fallback).pipe(Config.map((choice) => choice === "on"))

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

/** Where files go (STORAGE). */
export type Storage = "filesystem" | "s3" | "memory"

/** The S3 bucket, when STORAGE=s3. */
export interface S3Config {
  readonly bucket: string
  /** S3_ENDPOINT: an S3-compatible server (MinIO, ...); None for AWS. */
  readonly endpoint: Option.Option<string>
  readonly region: string
  /** Key prefix, "" or ending in `/`. */
  readonly prefix: string
  readonly forcePathStyle: boolean
  /** Bytes per multipart part. */
  readonly partSize: number
  /** AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (with AWS_SESSION_TOKEN); None: the SDK's default chain. */
  readonly credentials: Option.Option<{
    readonly accessKeyId: Redacted.Redacted<string>
    readonly secretAccessKey: Redacted.Redacted<string>
    readonly sessionToken: Option.Option<Redacted.Redacted<string>>
  }>
}

/** S3 caps a single-request copy at 5 GiB, and the S3 store publishes with one copy. */
export const S3_MAX_FILE_MIB = 5 * 1024

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
  /** Seconds start-up may take (storage, upload registry, Redis) before it gives up. */
  readonly startupTimeoutSeconds: number
  /** Seconds between WebSocket pings; a peer that misses one is disconnected. */
  readonly heartbeatSeconds: number
  /** Reverse proxies in front whose Forwarded / X-Forwarded-For is believed: a hop count (0: none) or networks. */
  readonly trustProxy: ClientAddress.Trust
  /** Limits, timeouts, origins and authentication (abuse protection). */
  readonly security: SecurityConfig
  /** Check file contents against their extension (CONTENT_CHECK=on|off). */
  readonly contentCheck: boolean
  /** Bytes that must stay free in the save directory after an upload (MIN_FREE_DISK_MB, in MiB). */
  readonly minFreeDiskBytes: number
  /** fsync a finished file and the save directory before file_received (SYNC_UPLOADS=on|off). */
  readonly syncUploads: boolean
  readonly rateLimit: {
    readonly keyPrefix: string
    readonly periodSeconds: number
    readonly perPeriod: number
  }
  readonly storage: Storage
  /** Some exactly when storage is "s3". */
  readonly s3: Option.Option<S3Config>
  /** Upload events (webhook, Redis stream) and the pre-upload hook. */
  readonly events: EventsConfig
}

export const DEFAULT_EXTENSIONS = "txt,pdf,png,jpg,jpeg,gif"

const Settings = Config.all({
  host: nonBlank("HOST", "127.0.0.1", "a host name or address, like 127.0.0.1 or 0.0.0.0"),
  port: integerBetween("PORT", 0, 65535, 8000),
  logLevel: LogLevelConfig,
  saveDirectory: nonBlank("FILE_SAVE_DIRECTORY", "uploaded_files", "a directory path"),
  maxFileBytes: integerBetween("FILE_MAX_SIZE", 0, Math.floor(Number.MAX_SAFE_INTEGER / MiB), 20, "MiB").pipe(
    Config.map((mebibytes) => mebibytes * MiB)
  ),
  maxChunkBytes: integerBetween("MAX_CHUNK_BYTES", 1, 64 * MiB, MiB, "bytes"),
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
  // Empty means unset: the default follows REDIS_URL.
  uploadRegistry: Config.option(Config.string("UPLOAD_REGISTRY")).pipe(
    Config.mapOrFail((text) =>
      Option.match(Option.filter(text, (choice) => choice.trim() !== ""), {
        onNone: () => Either.right(Option.none()),
        onSome: (choice) => Either.map(parseChoice("UPLOAD_REGISTRY", ["memory", "filesystem", "redis"], choice), Option.some)
      }))
  ),
  uploadExpirySeconds: integerBetween("UPLOAD_EXPIRY", 1, 365 * 24 * 3600, 24 * 3600, "seconds"),
  redisKeyPrefix: nonBlank("REDIS_KEY_PREFIX", "file_receiver", "a non-empty Redis key prefix"),
  shutdownGraceSeconds: integerBetween("SHUTDOWN_GRACE", 0, 3600, 10, "seconds"),
  startupTimeoutSeconds: integerBetween("STARTUP_TIMEOUT", 1, 3600, 30, "seconds"),
  heartbeatSeconds: integerBetween("HEARTBEAT_INTERVAL", 1, 3600, 15, "seconds"),
  trustProxy: Config.string("TRUST_PROXY").pipe(
    Config.withDefault("0"),
    Config.mapOrFail((text) =>
      Either.mapLeft(ClientAddress.parseTrust(text), (expectation) =>
        ConfigError.InvalidData(["TRUST_PROXY"], `expected ${expectation}, got "${text}"`)))
  ),
  security: SecurityConfig,
  contentCheck: onOff("CONTENT_CHECK", "on"),
  minFreeDiskBytes: integerBetween("MIN_FREE_DISK_MB", 0, 1024 * 1024 * 1024, 64, "MiB").pipe(Config.map((mebibytes) => mebibytes * MiB)),
  syncUploads: onOff("SYNC_UPLOADS", "on"),
  rateLimit: Config.all({
    keyPrefix: nonBlank("RATE_LIMIT_KEY_PREFIX", "rate_limit", "a non-empty Redis key prefix"),
    periodSeconds: integerBetween("RATE_LIMIT_PERIOD", 1, 365 * 24 * 3600, 60, "seconds"),
    perPeriod: integerBetween("RATE_LIMIT_PER_PERIOD", 1, Number.MAX_SAFE_INTEGER, 1000)
  }),
  events: EventsConfig
})

const optionalString = (name: string) =>
  Config.option(Config.string(name)).pipe(Config.map(Option.filter((text) => text.trim() !== "")), Config.map(Option.map((text) => text.trim())))

/** The S3_* variables as given; checked only when STORAGE=s3. */
const S3Variables = Config.all({
  bucket: optionalString("S3_BUCKET"),
  endpoint: optionalString("S3_ENDPOINT"),
  region: optionalString("S3_REGION"),
  prefix: Config.string("S3_PREFIX").pipe(Config.withDefault("")),
  forcePathStyle: optionalString("S3_FORCE_PATH_STYLE"),
  partSize: optionalString("S3_PART_SIZE"),
  // Empty keys count as unset (the SDK's chain), so a compose file can clear its MinIO defaults.
  accessKeyId: optionalSecret("AWS_ACCESS_KEY_ID"),
  secretAccessKey: optionalSecret("AWS_SECRET_ACCESS_KEY"),
  sessionToken: optionalSecret("AWS_SESSION_TOKEN")
})

const MIN_PART_SIZE = 5 * MiB

const s3Settings = (raw: Config.Config.Success<typeof S3Variables>): Either.Either<S3Config, ConfigError.ConfigError> =>
  Either.gen(function*() {
    const bucket = yield* Option.match(raw.bucket, {
      onNone: () => invalid("S3_BUCKET", "a bucket name when STORAGE=s3", ""),
      onSome: (name) => (/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) ? Either.right(name) : invalid("S3_BUCKET", "an S3 bucket name (3-63 of a-z, 0-9, . and -)", name))
    })
    const endpoint = yield* Option.match(raw.endpoint, {
      onNone: () => Either.right(Option.none<string>()),
      onSome: (url) => (/^https?:\/\/[^\s/]+/.test(url) ? Either.right(Option.some(url)) : invalid("S3_ENDPOINT", "an http:// or https:// URL", url))
    })
    const forcePathStyle = yield* Option.match(raw.forcePathStyle, {
      onNone: () => Either.right(false),
      onSome: (text) => parseBoolean("S3_FORCE_PATH_STYLE", text)
    })
    const partSize = yield* Option.match(raw.partSize, {
      onNone: () => Either.right(8 * MiB),
      onSome: (text) => parseIntegerBetween("S3_PART_SIZE", MIN_PART_SIZE, 5 * 1024 * MiB, text, "bytes")
    })
    if (Option.isSome(raw.accessKeyId) !== Option.isSome(raw.secretAccessKey)) {
      return yield* invalid("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set together", "only one of them")
    }
    const prefix = raw.prefix.trim().replace(/^\/+/, "")
    return {
      bucket,
      endpoint,
      region: Option.getOrElse(raw.region, () => "us-east-1"),
      prefix: prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`,
      forcePathStyle,
      partSize,
      credentials: Option.all({ accessKeyId: raw.accessKeyId, secretAccessKey: raw.secretAccessKey }).pipe(
        Option.map((keys) => ({ ...keys, sessionToken: raw.sessionToken }))
      )
    }
  })

const Storage = Config.all({
  storage: oneOf("STORAGE", ["filesystem", "s3", "memory"], "filesystem"),
  s3: S3Variables
})

export const AppConfig: Config.Config<AppConfig> = Config.all([Settings, Storage]).pipe(
  Config.mapOrFail(([{ uploadRegistry, ...settings }, storage]) =>
    Either.gen(function*() {
      const registry = yield* Option.match(uploadRegistry, {
        onNone: () => Either.right(Option.isSome(settings.redisUrl) ? "redis" as const : "filesystem" as const),
        onSome: (choice) =>
          choice === "redis" && Option.isNone(settings.redisUrl)
            ? Either.left(ConfigError.InvalidData(["UPLOAD_REGISTRY"], `expected REDIS_URL to be set for "redis", got "${choice}"`))
            : Either.right(choice)
      })
      if (storage.storage !== "s3") return { ...settings, uploadRegistry: registry, storage: storage.storage, s3: Option.none() }
      const s3 = yield* s3Settings(storage.s3)
      if (settings.maxFileBytes > S3_MAX_FILE_MIB * MiB) {
        return yield* invalid("FILE_MAX_SIZE", `at most ${S3_MAX_FILE_MIB} MiB (5 GiB) with STORAGE=s3`, settings.maxFileBytes / MiB)
      }
      return { ...settings, uploadRegistry: registry, storage: "s3" as const, s3: Option.some(s3) }
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
