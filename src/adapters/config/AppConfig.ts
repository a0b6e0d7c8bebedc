/**
 * The service's configuration: every environment variable read once, with
 * effect's Config, and decoded into the settings Server.ts hands to each
 * layer. Choices are tagged unions that carry what they need (Storage,
 * Registry, Deliveries); a limit or timeout that is off is None, or absent
 * where the consumer's settings say "absent means off"; times are
 * Durations; the tokens are loaded. A bad value fails with a ConfigError
 * naming the variable and the value; choices are read in any case; an empty
 * optional setting counts as unset. LOG_LEVEL and LOG_FORMAT are main's
 * (LogConfig).
 */
import { Config, ConfigError, Duration, Effect, Either, Option } from "effect"
import type { UploadPolicy } from "../../domain/Upload.js"
import type { Integrity } from "../../application/ports/Digests.js"
import { defaultThreads } from "../digest/WorkerDigests.js"
import * as ClientAddress from "../http/ClientAddress.js"
import type * as OriginPolicy from "../http/OriginPolicy.js"
import * as AuthTokens from "./AuthTokens.js"
import { ifSome, integerBetween, nonBlank, oneOf, onOff, parseIntegerBetween } from "./ConfigValues.js"
import * as EventsConfig from "./EventsConfig.js"
import { RedisConfig, type RedisSettings } from "./RedisConfig.js"
import { SecurityConfig } from "./SecurityConfig.js"
import * as StorageConfig from "./StorageConfig.js"
import { MiB, UploadConfig } from "./UploadConfig.js"

export { type LogFormat, LogFormatConfig, LogLevelConfig } from "./LogConfig.js"

/** Where the server listens and how it treats connections: the WebSocket transport's settings. */
export interface TransportConfig {
  readonly host: string
  /** 0 picks a free port. */
  readonly port: number
  /** The largest frame accepted (see `maxPayloadFor`). */
  readonly maxPayload: number
  /** How long shutdown waits for clients to acknowledge the 1001 close (SHUTDOWN_GRACE). */
  readonly closeGraceMillis: number
  /** Between WebSocket pings; a peer that misses one is cut off (HEARTBEAT_INTERVAL). */
  readonly heartbeatMillis: number
  /** Reverse proxies whose Forwarded / X-Forwarded-For is believed (TRUST_PROXY). */
  readonly trust: ClientAddress.Trust
  readonly allowedOrigins: OriginPolicy.OriginPolicy
  /** Open connections per client and in total; absent when both are off, and an off one is UNLIMITED. */
  readonly connectionLimits?: { readonly perClient: number; readonly total: number }
  readonly handshakeTimeoutMillis: number
}

/** The upload session's limits, timeouts and checks; an absent field is off. */
export interface SessionConfig {
  readonly rateLimit: { readonly limit: number; readonly window: Duration.Duration; readonly bytesLimit?: number }
  /** Most unfinished uploads per client, each held for UPLOAD_EXPIRY. */
  readonly uploadQuota?: { readonly perClient: number; readonly ttl: Duration.Duration }
  /** `idle`: with no upload open; `stall`: with one. */
  readonly timeouts: { readonly idle?: Duration.Duration; readonly stall?: Duration.Duration }
  /**
   * Check contents against the extension (CONTENT_CHECK); bytes to keep free on disk (MIN_FREE_DISK_MB); which
   * uploads are hashed (INTEGRITY).
   */
  readonly checks: { readonly contentCheck: boolean; readonly minFreeBytes: number; readonly integrity: Integrity }
}

export interface AppConfig {
  readonly transport: TransportConfig
  /** AUTH_TOKENS and AUTH_TOKENS_FILE together; None when authentication is off. */
  readonly tokens: Option.Option<AuthTokens.Tokens>
  readonly upload: UploadPolicy
  readonly session: SessionConfig
  /** Chunks clients are invited to send at once (MAX_CHUNKS_IN_FLIGHT); None when off. */
  readonly pacing: Option.Option<{ readonly invitations: number; readonly lease: Duration.Duration }>
  /** How long an unfinished upload is kept after its last chunk (UPLOAD_EXPIRY). */
  readonly uploadExpiry: Duration.Duration
  /** How long start-up may take (storage, upload registry, Redis) before it gives up (STARTUP_TIMEOUT). */
  readonly startupTimeout: Duration.Duration
  /** FILE_SAVE_DIRECTORY, also where the filesystem registry and the webhook journal keep their files. */
  readonly saveDirectory: string
  readonly storage: StorageConfig.Storage
  readonly registry: StorageConfig.Registry
  /** The connection the Redis adapters share (rate and connection limits, ...); None without REDIS_URL. */
  readonly redis: Option.Option<RedisSettings>
  readonly events: EventsConfig.EventsConfig
  /** Worker threads that hash uploads (DIGEST_THREADS); 0 hashes on the event loop's thread. */
  readonly digestThreads: number
}

/**
 * The biggest legitimate frame: a chunk of `maxChunkBytes` in base64, wrapped
 * in JSON. Doubled because JSON encoders may escape `/` as `\\/`.
 */
export const maxPayloadFor = (maxChunkBytes: number): number => Math.ceil(maxChunkBytes / 3) * 4 * 2 + 4096

/** What an off connection limit counts up to while the other one is on: never reached. */
export const UNLIMITED = Number.MAX_SAFE_INTEGER

/** How long an invitation to send a chunk waits to be used before it goes back (see Pacing); not a setting. */
const PACING_LEASE = Duration.seconds(2)

const Variables = Config.all({
  host: nonBlank("HOST", "127.0.0.1", "a host name or address, like 127.0.0.1 or 0.0.0.0"),
  port: integerBetween("PORT", 0, 65535, 8000),
  saveDirectory: nonBlank("FILE_SAVE_DIRECTORY", "uploaded_files", "a directory path"),
  upload: UploadConfig,
  uploadExpirySeconds: integerBetween("UPLOAD_EXPIRY", 1, 365 * 24 * 3600, 24 * 3600, "seconds"),
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
  tokens: AuthTokens.TokenSources,
  contentCheck: onOff("CONTENT_CHECK", "on"),
  minFreeDiskBytes: integerBetween("MIN_FREE_DISK_MB", 0, 1024 * 1024 * 1024, 64, "MiB").pipe(Config.map((mebibytes) => mebibytes * MiB)),
  syncUploads: onOff("SYNC_UPLOADS", "on"),
  integrity: oneOf("INTEGRITY", ["sha256", "requested"], "sha256"),
  digestThreads: Config.string("DIGEST_THREADS").pipe(
    Config.withDefault("auto"),
    Config.mapOrFail((text) => text.trim().toLowerCase() === "auto" ? Either.right(defaultThreads()) : parseIntegerBetween("DIGEST_THREADS", 0, 64, text, "threads"))
  ),
  ratePeriodSeconds: integerBetween("RATE_LIMIT_PERIOD", 1, 365 * 24 * 3600, 60, "seconds"),
  ratePerPeriod: integerBetween("RATE_LIMIT_PER_PERIOD", 1, Number.MAX_SAFE_INTEGER, 1000),
  redis: RedisConfig,
  storage: StorageConfig.StorageVariables,
  events: EventsConfig.EventsVariables
})

/** The settings of `v`, the tokens' sources still to be loaded. */
const decode = ({ events, security, storage, tokens, ...v }: Config.Config.Success<typeof Variables>) =>
  Either.gen(function*() {
    const uploadExpiry = Duration.seconds(v.uploadExpirySeconds)
    const { limits, timeouts } = security
    const choices = yield* StorageConfig.decode(storage, {
      directory: v.saveDirectory,
      sync: v.syncUploads,
      maxFileBytes: v.upload.maxFileBytes,
      redis: v.redis,
      expiry: uploadExpiry
    })
    const connectionLimits = Option.isNone(limits.connectionsPerClient) && Option.isNone(limits.connections)
      ? Option.none()
      : Option.some({
        perClient: Option.getOrElse(limits.connectionsPerClient, () => UNLIMITED),
        total: Option.getOrElse(limits.connections, () => UNLIMITED)
      })
    const transport: TransportConfig = {
      host: v.host,
      port: v.port,
      maxPayload: maxPayloadFor(v.upload.maxChunkBytes),
      closeGraceMillis: v.shutdownGraceSeconds * 1000,
      heartbeatMillis: v.heartbeatSeconds * 1000,
      trust: v.trustProxy,
      allowedOrigins: security.allowedOrigins,
      ...ifSome("connectionLimits", connectionLimits),
      handshakeTimeoutMillis: Duration.toMillis(timeouts.handshake)
    }
    const session: SessionConfig = {
      rateLimit: { limit: v.ratePerPeriod, window: Duration.seconds(v.ratePeriodSeconds), ...ifSome("bytesLimit", limits.bytesPerPeriod) },
      ...ifSome("uploadQuota", Option.map(limits.uploadsPerClient, (perClient) => ({ perClient, ttl: uploadExpiry }))),
      timeouts: { ...ifSome("idle", timeouts.idle), ...ifSome("stall", timeouts.uploadStall) },
      checks: { contentCheck: v.contentCheck, minFreeBytes: v.minFreeDiskBytes, integrity: v.integrity }
    }
    return {
      transport,
      tokenSources: tokens,
      upload: v.upload,
      session,
      pacing: Option.map(limits.chunksInFlight, (invitations) => ({ invitations, lease: PACING_LEASE })),
      uploadExpiry,
      startupTimeout: Duration.seconds(v.startupTimeoutSeconds),
      saveDirectory: v.saveDirectory,
      ...choices,
      redis: v.redis,
      events: yield* EventsConfig.decode(events, { redis: v.redis, directory: v.saveDirectory }),
      digestThreads: v.digestThreads
    }
  })

/**
 * The configuration from the current ConfigProvider (the environment), with
 * the tokens file read: an effect rather than a Config for that file.
 */
export const AppConfig: Effect.Effect<AppConfig, ConfigError.ConfigError | AuthTokens.AuthTokensFileError> = Effect.flatMap(
  Config.mapOrFail(Variables, decode),
  ({ tokenSources, ...config }) => Effect.map(AuthTokens.load(tokenSources), (tokens): AppConfig => ({ ...config, tokens }))
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
