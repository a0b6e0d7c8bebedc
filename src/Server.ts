/**
 * The whole service as one Layer, built from configuration: adapters are
 * picked here (Redis or in-memory rate limiting, the filesystem store) and
 * wired to the upload session and the WebSocket transport. `main.ts` runs it;
 * end-to-end tests run it on port 0.
 */
import { Duration, Effect, Layer, Option } from "effect"
import { AppConfig } from "./adapters/config/AppConfig.js"
import * as FsFileStore from "./adapters/fs/FsFileStore.js"
import * as MemoryRateLimiter from "./adapters/memory/MemoryRateLimiter.js"
import * as WebSocketServer from "./adapters/ws/WebSocketServer.js"
import * as UploadSession from "./application/UploadSession.js"

/**
 * The biggest legitimate frame: a chunk of `maxChunkBytes` in base64, wrapped
 * in JSON. Doubled because JSON encoders may escape `/` as `\/`.
 */
export const maxPayloadFor = (maxChunkBytes: number): number => Math.ceil(maxChunkBytes / 3) * 4 * 2 + 4096

/** Redis adapters are loaded only when REDIS_URL is set: a single instance never pays for ioredis. */
const rateLimiterLayer = (config: AppConfig) =>
  Option.match(config.redisUrl, {
    onNone: () => MemoryRateLimiter.layerMemory,
    onSome: (url) =>
      Layer.unwrapEffect(
        Effect.promise(async () => {
          const [RedisClient, RedisRateLimiter] = await Promise.all([
            import("./adapters/redis/RedisClient.js"),
            import("./adapters/redis/RedisRateLimiter.js")
          ])
          return RedisRateLimiter.layer(config.rateLimit.keyPrefix).pipe(Layer.provide(RedisClient.layer(url)))
        })
      )
  })

/** The service for a given configuration. */
export const layerFrom = (config: AppConfig) =>
  WebSocketServer.layer({
    host: config.host,
    port: config.port,
    maxPayload: maxPayloadFor(config.maxChunkBytes)
  }).pipe(
    Layer.provide(
      UploadSession.layer({
        upload: {
          maxFileBytes: config.maxFileBytes,
          maxChunkBytes: config.maxChunkBytes,
          allowedExtensions: config.allowedExtensions
        },
        rateLimit: { limit: config.rateLimit.perPeriod, window: Duration.seconds(config.rateLimit.periodSeconds) }
      })
    ),
    Layer.provide(FsFileStore.layer(config.saveDirectory)),
    Layer.provide(rateLimiterLayer(config))
  )

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
          ratePerPeriod: `${config.rateLimit.perPeriod}/${config.rateLimit.periodSeconds}s`
        }))
      )
    ))
)
