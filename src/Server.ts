/**
 * The whole service as one Layer, built from configuration: adapters are
 * picked here (Redis or in-memory rate limiting; Redis, sidecar-file or
 * in-memory upload registry; filesystem, S3 or in-memory storage) and wired to the upload
 * session, the expiry sweep and the WebSocket transport. `main.ts` runs it;
 * end-to-end tests run it on port 0. Start-up checks the save directory first
 * and gives up after STARTUP_TIMEOUT seconds (a store that never answers).
 */
import { Data, Duration, Effect, Either, Layer, Option, Redacted } from "effect"
import * as fs from "node:fs/promises"
import { AppConfig, type S3Config } from "./adapters/config/AppConfig.js"
import * as SaveDirectory from "./adapters/config/SaveDirectory.js"
import * as Events from "./adapters/events/Events.js"
import * as FsDiskSpace from "./adapters/fs/FsDiskSpace.js"
import * as FsFileStore from "./adapters/fs/FsFileStore.js"
import * as FsUploadRegistry from "./adapters/fs/FsUploadRegistry.js"
import * as Authentication from "./adapters/http/Authentication.js"
import { PublicConfig } from "./adapters/http/PublicConfig.js"
import * as MemoryConcurrencyLimiter from "./adapters/memory/MemoryConcurrencyLimiter.js"
import * as MemoryFileStore from "./adapters/memory/MemoryFileStore.js"
import * as MemoryRateLimiter from "./adapters/memory/MemoryRateLimiter.js"
import * as MemoryUploadRegistry from "./adapters/memory/MemoryUploadRegistry.js"
import type { RedisClient, RedisConnectionError } from "./adapters/redis/RedisClient.js"
import type { S3Settings } from "./adapters/s3/S3Bucket.js"
import * as WebSocketServer from "./adapters/ws/WebSocketServer.js"
import type { FileStore, FileStoreError } from "./application/ports/FileStore.js"
import * as LimiterFallback from "./application/resilience/LimiterFallback.js"
import * as Pacing from "./application/limits/Pacing.js"
import * as Readiness from "./application/ports/Readiness.js"
import * as Connections from "./application/session/Connections.js"
import * as RegistryFallback from "./application/resilience/RegistryFallback.js"
import * as UploadExpiry from "./application/uploads/UploadExpiry.js"
import * as UploadSession from "./application/session/UploadSession.js"

/**
 * The biggest legitimate frame: a chunk of `maxChunkBytes` in base64, wrapped
 * in JSON. Doubled because JSON encoders may escape `/` as `\\/`.
 */
export const maxPayloadFor = (maxChunkBytes: number): number => Math.ceil(maxChunkBytes / 3) * 4 * 2 + 4096

type RedisClientLayer = Layer.Layer<RedisClient, RedisConnectionError>

/** One Redis connection per process, shared by every Redis adapter; ioredis is loaded only when REDIS_URL is set. */
const redisClientLayer = (url: Redacted.Redacted<string>): RedisClientLayer =>
  Layer.unwrapEffect(
    Effect.map(Effect.promise(() => import("./adapters/redis/RedisClient.js")), (RedisClient) => RedisClient.layer(url))
  )

const memoryLimiters = Layer.merge(MemoryRateLimiter.layerMemory, MemoryConcurrencyLimiter.layerMemory)

/** The rate and concurrency limiters: in memory, or in Redis with the in-memory ones as insurance for an outage. */
const limitersLayer = (config: AppConfig, redis: Option.Option<RedisClientLayer>) =>
  Option.match(redis, {
    onNone: () => memoryLimiters,
    onSome: (client) =>
      LimiterFallback.layer(
        Layer.unwrapEffect(
          Effect.map(
            Effect.all([
              Effect.promise(() => import("./adapters/redis/RedisRateLimiter.js")),
              Effect.promise(() => import("./adapters/redis/RedisConcurrencyLimiter.js"))
            ]),
            ([RedisRateLimiter, RedisConcurrencyLimiter]) =>
              Layer.merge(
                RedisRateLimiter.layer(config.rateLimit.keyPrefix),
                RedisConcurrencyLimiter.layer(`${config.redisKeyPrefix}:leases`)
              )
          )
        ).pipe(Layer.provide(client)),
        memoryLimiters
      )
  })

/** The tokens of AUTH_TOKENS and AUTH_TOKENS_FILE together; undefined when authentication is off. */
const loadTokens = (config: AppConfig) =>
  Effect.gen(function*() {
    const inline = Option.match(config.security.authTokens, { onNone: () => [], onSome: Redacted.value })
    if (Option.isNone(config.security.authTokensFile)) return inline.length === 0 ? undefined : inline
    const file = config.security.authTokensFile.value
    const text = yield* Effect.tryPromise({
      try: () => fs.readFile(file, "utf8"),
      catch: (cause) => new Error(`AUTH_TOKENS_FILE: cannot read ${file}: ${cause instanceof Error ? cause.message : String(cause)}`)
    })
    const fromFile = Authentication.parseTokens(Authentication.fileEntries(text))
    if (Either.isLeft(fromFile)) return yield* Effect.fail(new Error(`AUTH_TOKENS_FILE: expected ${fromFile.left} in ${file}`))
    return [...inline, ...fromFile.right]
  })

/** How long an invitation to send a chunk waits to be used before it goes back (see Pacing). */
const PACING_LEASE = Duration.seconds(2)

/** A limit of 0 means none. */
const limit = (value: number): number => (value === 0 ? Number.MAX_SAFE_INTEGER : value)

const uploadRegistryLayer = (config: AppConfig, redis: Option.Option<RedisClientLayer>) => {
  switch (config.uploadRegistry) {
    case "memory":
      return MemoryUploadRegistry.layerMemory
    case "filesystem":
      return FsUploadRegistry.layer(config.saveDirectory, { sync: config.syncUploads })
    case "redis":
      return Option.match(redis, {
        onNone: () => Layer.die(new Error("UPLOAD_REGISTRY=redis needs REDIS_URL")),
        // A Redis outage must not stop new uploads: they are recorded on this instance meanwhile.
        onSome: (client) =>
          RegistryFallback.layer(
            Layer.unwrapEffect(
              Effect.map(
                Effect.promise(() => import("./adapters/redis/RedisUploadRegistry.js")),
                (RedisUploadRegistry) =>
                  RedisUploadRegistry.layer({
                    prefix: config.redisKeyPrefix,
                    expiry: Duration.seconds(config.uploadExpirySeconds)
                  })
              )
            ).pipe(Layer.provide(client)),
            MemoryUploadRegistry.layerMemory
          )
      })
  }
}

const s3Settings = (s3: S3Config): S3Settings => ({
  bucket: s3.bucket,
  endpoint: Option.getOrUndefined(s3.endpoint),
  region: s3.region,
  prefix: s3.prefix,
  forcePathStyle: s3.forcePathStyle,
  partSize: s3.partSize,
  credentials: Option.getOrUndefined(Option.map(s3.credentials, (keys) => ({
    accessKeyId: Redacted.value(keys.accessKeyId),
    secretAccessKey: Redacted.value(keys.secretAccessKey),
    ...Option.match(keys.sessionToken, { onNone: () => ({}), onSome: (token) => ({ sessionToken: Redacted.value(token) }) })
  })))
})

/** The FileStore picked by STORAGE, with its readiness probe; the AWS SDK is loaded only for s3. */
const storageLayer = (config: AppConfig): Layer.Layer<FileStore | Readiness.StorageProbe, FileStoreError> => {
  switch (config.storage) {
    case "memory":
      return Layer.merge(MemoryFileStore.layerMemory, Layer.succeed(Readiness.StorageProbe, { name: "storage", check: Effect.void }))
    case "s3":
      return Option.match(config.s3, {
        onNone: () => Layer.die(new Error("STORAGE=s3 needs the S3 settings")),
        onSome: (s3) =>
          Layer.unwrapEffect(
            Effect.map(Effect.promise(() => import("./adapters/s3/S3FileStore.js")), (S3FileStore) => S3FileStore.layer(s3Settings(s3)))
          )
      })
    case "filesystem":
      return Layer.merge(FsFileStore.layer(config.saveDirectory, { sync: config.syncUploads }), Layer.succeed(Readiness.StorageProbe, FsFileStore.probe(config.saveDirectory)))
  }
}

const readinessLayer = (redis: Option.Option<RedisClientLayer>) =>
  Option.match(redis, {
    onNone: () => Layer.effect(Readiness.Readiness, Effect.map(Readiness.StorageProbe, (storage) => [storage])),
    onSome: (client) =>
      Layer.effect(
        Readiness.Readiness,
        Effect.flatMap(Effect.promise(() => import("./adapters/redis/RedisClient.js")), (RedisClient) =>
          Effect.flatMap(RedisClient.probe, (redisProbe) => Effect.map(Readiness.StorageProbe, (storage) => [storage, redisProbe])))
      ).pipe(Layer.provide(client))
  })

/** Whether anything configured keeps files in FILE_SAVE_DIRECTORY (the webhook journal does without Redis). */
const usesSaveDirectory = (config: AppConfig): boolean =>
  config.storage === "filesystem" || config.uploadRegistry === "filesystem" ||
  (Option.isSome(config.events.webhook) && Option.isNone(config.redisUrl))

/** The service for a given configuration. */
export const layerFrom = (config: AppConfig) =>
  Layer.unwrapEffect(
    Effect.zipRight(
      usesSaveDirectory(config) ? SaveDirectory.ensure(config.saveDirectory) : Effect.void,
      Effect.map(loadTokens(config), (tokens) => layerWith(config, tokens))
    )
  )

export class StartupTimeout extends Data.TaggedError("StartupTimeout")<{ readonly message: string }> {}

/**
 * `layer`, failing with StartupTimeout when it is not built within `seconds`.
 * Disconnected, so that a step that cannot be interrupted (a promise that
 * never settles inside an acquisition) does not hold up the failure.
 */
const withinDeadline = <A, E>(layer: Layer.Layer<A, E>, seconds: number): Layer.Layer<A, E | StartupTimeout> =>
  Layer.scopedContext(
    Layer.build(layer).pipe(
      Effect.disconnect,
      Effect.timeoutFail({
        duration: Duration.seconds(seconds),
        onTimeout: () =>
          new StartupTimeout({
            message: `not ready within ${seconds} s (STARTUP_TIMEOUT): storage, the upload registry or Redis did not answer`
          })
      })
    )
  )

const layerWith = (config: AppConfig, tokens: ReadonlyArray<Authentication.Token> | undefined) => {
  const { limits, timeouts } = config.security
  const redis = Option.map(config.redisUrl, redisClientLayer)
  const backends = Layer.mergeAll(
    storageLayer(config),
    // Free space is a filesystem's notion: other stores have no disk to check.
    config.storage === "filesystem" ? FsDiskSpace.layer(config.saveDirectory) : Layer.empty,
    limitersLayer(config, redis),
    uploadRegistryLayer(config, redis)
  )
  const session = UploadSession.layer({
    upload: {
      maxFileBytes: config.maxFileBytes,
      maxChunkBytes: config.maxChunkBytes,
      allowedExtensions: config.allowedExtensions
    },
    rateLimit: {
      limit: config.rateLimit.perPeriod,
      window: Duration.seconds(config.rateLimit.periodSeconds),
      ...(limits.bytesPerPeriod === 0 ? {} : { bytesLimit: limits.bytesPerPeriod })
    },
    ...(limits.uploadsPerClient === 0
      ? {}
      : { uploadQuota: { perClient: limits.uploadsPerClient, ttl: Duration.seconds(config.uploadExpirySeconds) } }),
    timeouts: {
      ...(timeouts.idleSeconds === 0 ? {} : { idle: Duration.seconds(timeouts.idleSeconds) }),
      ...(timeouts.uploadStallSeconds === 0 ? {} : { stall: Duration.seconds(timeouts.uploadStallSeconds) })
    },
    checks: { contentCheck: config.contentCheck, minFreeBytes: config.minFreeDiskBytes }
  })
  return WebSocketServer.layer({
    host: config.host,
    port: config.port,
    maxPayload: maxPayloadFor(config.maxChunkBytes),
    closeGraceMillis: config.shutdownGraceSeconds * 1000,
    heartbeatMillis: config.heartbeatSeconds * 1000,
    trust: config.trustProxy,
    allowedOrigins: config.security.allowedOrigins,
    tokens,
    handshakeTimeoutMillis: timeouts.handshakeSeconds * 1000
  }).pipe(
    Layer.provide(Layer.mergeAll(
      Connections.layer({ limits: { perClient: limit(limits.connectionsPerClient), total: limit(limits.connections) } }).pipe(
        Layer.provide(session)
      ),
      readinessLayer(redis),
      Layer.succeed(PublicConfig, {
        maxFileBytes: config.maxFileBytes,
        maxChunkBytes: config.maxChunkBytes,
        allowedExtensions: config.allowedExtensions,
        authRequired: tokens !== undefined
      })
    )),
    Layer.merge(UploadExpiry.layer({ expiry: Duration.seconds(config.uploadExpirySeconds) })),
    Layer.provide(backends),
    // Optional services: the session and the sweep find them if configured.
    Layer.provide(Layer.mergeAll(
      Events.uploadEventsLayer(config, redis),
      Events.preUploadHookLayer(config),
      limits.chunksInFlight === 0 ? Layer.empty : Pacing.layer({ invitations: limits.chunksInFlight, lease: PACING_LEASE })
    ))
  )
}

/** The service, configured from the environment (or the current ConfigProvider). */
export const layer = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    withinDeadline(layerFrom(config), config.startupTimeoutSeconds).pipe(
      Layer.tap(() =>
        Effect.logInfo("configuration").pipe(Effect.annotateLogs({
          storage: Option.match(config.s3, {
            onNone: () => config.storage,
            onSome: (s3) => `s3://${s3.bucket}/${s3.prefix}${Option.match(s3.endpoint, { onNone: () => "", onSome: (url) => ` at ${url}` })}`
          }),
          saveDirectory: config.saveDirectory,
          maxFileBytes: config.maxFileBytes,
          allowedExtensions: config.allowedExtensions.join(","),
          rateLimiter: Option.isSome(config.redisUrl) ? "redis" : "memory",
          uploadRegistry: config.uploadRegistry,
          uploadExpirySeconds: config.uploadExpirySeconds,
          ratePerPeriod: `${config.rateLimit.perPeriod}/${config.rateLimit.periodSeconds}s`,
          authentication: Option.isSome(config.security.authTokens) || Option.isSome(config.security.authTokensFile) ? "tokens" : "off",
          allowedOrigins: config.security.allowedOrigins._tag,
          uploadEvents: ["log", ...Option.toArray(Option.as(config.events.webhook, "webhook")), ...Option.toArray(Option.as(config.events.stream, "stream"))].join(","),
          preUploadHook: Option.isSome(config.events.preUploadHook)
        }))
      )
    ))
)
