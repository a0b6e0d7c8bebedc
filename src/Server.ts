/**
 * The whole service as one Layer, built from configuration: adapters are
 * picked here (Redis or in-memory rate limiting; Redis, sidecar-file or
 * in-memory upload registry; the filesystem store) and wired to the upload
 * session, the expiry sweep and the WebSocket transport. `main.ts` runs it;
 * end-to-end tests run it on port 0.
 */
import { Duration, Effect, Layer, Option } from "effect"
import type { Redacted } from "effect"
import { AppConfig } from "./adapters/config/AppConfig.js"
import * as Events from "./adapters/events/Events.js"
import * as FsFileStore from "./adapters/fs/FsFileStore.js"
import * as FsUploadRegistry from "./adapters/fs/FsUploadRegistry.js"
import * as MemoryRateLimiter from "./adapters/memory/MemoryRateLimiter.js"
import * as MemoryUploadRegistry from "./adapters/memory/MemoryUploadRegistry.js"
import type { RedisClient, RedisConnectionError } from "./adapters/redis/RedisClient.js"
import * as WebSocketServer from "./adapters/ws/WebSocketServer.js"
import * as Readiness from "./application/Readiness.js"
import * as UploadExpiry from "./application/UploadExpiry.js"
import * as UploadSession from "./application/UploadSession.js"

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

const rateLimiterLayer = (config: AppConfig, redis: Option.Option<RedisClientLayer>) =>
  Option.match(redis, {
    onNone: () => MemoryRateLimiter.layerMemory,
    onSome: (client) =>
      Layer.unwrapEffect(
        Effect.map(
          Effect.promise(() => import("./adapters/redis/RedisRateLimiter.js")),
          (RedisRateLimiter) => RedisRateLimiter.layer(config.rateLimit.keyPrefix)
        )
      ).pipe(Layer.provide(client))
  })

const uploadRegistryLayer = (config: AppConfig, redis: Option.Option<RedisClientLayer>) => {
  switch (config.uploadRegistry) {
    case "memory":
      return MemoryUploadRegistry.layerMemory
    case "filesystem":
      return FsUploadRegistry.layer(config.saveDirectory)
    case "redis":
      return Option.match(redis, {
        onNone: () => Layer.die(new Error("UPLOAD_REGISTRY=redis needs REDIS_URL")),
        onSome: (client) =>
          Layer.unwrapEffect(
            Effect.map(
              Effect.promise(() => import("./adapters/redis/RedisUploadRegistry.js")),
              (RedisUploadRegistry) =>
                RedisUploadRegistry.layer({
                  prefix: config.redisKeyPrefix,
                  expiry: Duration.seconds(config.uploadExpirySeconds)
                })
            )
          ).pipe(Layer.provide(client))
      })
  }
}

const readinessLayer = (config: AppConfig, redis: Option.Option<RedisClientLayer>) => {
  const storage = FsFileStore.probe(config.saveDirectory)
  return Option.match(redis, {
    onNone: () => Layer.succeed(Readiness.Readiness, [storage]),
    onSome: (client) =>
      Layer.effect(
        Readiness.Readiness,
        Effect.flatMap(Effect.promise(() => import("./adapters/redis/RedisClient.js")), (RedisClient) =>
          Effect.map(RedisClient.probe, (redisProbe) => [storage, redisProbe]))
      ).pipe(Layer.provide(client))
  })
}

/** The service for a given configuration. */
export const layerFrom = (config: AppConfig) => {
  const redis = Option.map(config.redisUrl, redisClientLayer)
  const backends = Layer.mergeAll(
    FsFileStore.layer(config.saveDirectory),
    rateLimiterLayer(config, redis),
    uploadRegistryLayer(config, redis)
  )
  const session = UploadSession.layer({
    upload: {
      maxFileBytes: config.maxFileBytes,
      maxChunkBytes: config.maxChunkBytes,
      allowedExtensions: config.allowedExtensions
    },
    rateLimit: { limit: config.rateLimit.perPeriod, window: Duration.seconds(config.rateLimit.periodSeconds) }
  })
  return WebSocketServer.layer({
    host: config.host,
    port: config.port,
    maxPayload: maxPayloadFor(config.maxChunkBytes),
    closeGraceMillis: config.shutdownGraceSeconds * 1000,
    heartbeatMillis: config.heartbeatSeconds * 1000,
    trustedProxies: config.trustProxy
  }).pipe(
    Layer.provide(Layer.merge(session, readinessLayer(config, redis))),
    Layer.merge(UploadExpiry.layer({ expiry: Duration.seconds(config.uploadExpirySeconds) })),
    Layer.provide(backends),
    // Optional services: the session and the sweep find them if configured.
    Layer.provide(Layer.merge(Events.uploadEventsLayer(config, redis), Events.preUploadHookLayer(config)))
  )
}

/** The service, configured from the environment (or the current ConfigProvider). */
export const layer = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    layerFrom(config).pipe(
      Layer.tap(() =>
        Effect.logInfo("configuration").pipe(Effect.annotateLogs({
          saveDirectory: config.saveDirectory,
          maxFileBytes: config.maxFileBytes,
          allowedExtensions: config.allowedExtensions.join(","),
          rateLimiter: Option.isSome(config.redisUrl) ? "redis" : "memory",
          uploadRegistry: config.uploadRegistry,
          uploadExpirySeconds: config.uploadExpirySeconds,
          ratePerPeriod: `${config.rateLimit.perPeriod}/${config.rateLimit.periodSeconds}s`,
          uploadEvents: ["log", ...Option.toArray(Option.as(config.events.webhook, "webhook")), ...Option.toArray(Option.as(config.events.stream, "stream"))].join(","),
          preUploadHook: Option.isSome(config.events.preUploadHook)
        }))
      )
    ))
)
