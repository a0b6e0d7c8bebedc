/**
 * Picks the upload-event receivers and the pre-upload hook from the
 * configuration: the log line always; the webhook with WEBHOOK_URL (its
 * pending deliveries in Redis with REDIS_URL, else in a journal file next to
 * the uploads); the Redis stream with EVENTS_STREAM; the HTTP hook with
 * PRE_UPLOAD_HOOK_URL. Redis adapters are loaded only when REDIS_URL is set.
 */
import { Context, Duration, Effect, Layer, Metric, Option } from "effect"
import * as path from "node:path"
import * as Metrics from "../../application/infrastructure/Metrics.js"
import type { PreUploadHook } from "../../application/ports/PreUploadHook.js"
import { fanOut, type UploadEvent, UploadEvents } from "../../application/ports/UploadEvents.js"
import type { AppConfig } from "../config/AppConfig.js"
import * as FsDeliveryJournal from "../fs/FsDeliveryJournal.js"
import type { RedisClient, RedisConnectionError } from "../redis/RedisClient.js"
import type { DeliveryStore, DeliveryStoreError } from "../../application/ports/DeliveryStore.js"
import * as HttpPreUploadHook from "../webhook/HttpPreUploadHook.js"
import * as WebhookUploadEvents from "../webhook/WebhookUploadEvents.js"
import * as LogUploadEvents from "./LogUploadEvents.js"

type Publish = (event: UploadEvent) => Effect.Effect<void>

class WebhookSink extends Context.Tag("file-receiver/events/WebhookSink")<WebhookSink, Publish>() {}
class StreamSink extends Context.Tag("file-receiver/events/StreamSink")<StreamSink, Publish>() {}

type RedisClientLayer = Layer.Layer<RedisClient, RedisConnectionError>

const deliveryStoreLayer = (
  config: AppConfig,
  redis: Option.Option<RedisClientLayer>
): Layer.Layer<DeliveryStore, DeliveryStoreError | RedisConnectionError> =>
  Option.match(redis, {
    onNone: () => FsDeliveryJournal.layer(config.saveDirectory),
    onSome: (client) =>
      Layer.unwrapEffect(
        Effect.map(Effect.promise(() => import("../redis/RedisDeliveryStore.js")), (store) => store.layer(config.redisKeyPrefix))
      ).pipe(Layer.provide(client))
  })

/** Every configured receiver behind one UploadEvents; completed events get where the file is stored. */
export const uploadEventsLayer = (
  config: AppConfig,
  redis: Option.Option<RedisClientLayer>
): Layer.Layer<UploadEvents, DeliveryStoreError | RedisConnectionError> => {
  const directory = path.resolve(config.saveDirectory)
  /** Where a stored file lives: a path for the filesystem store, an s3:// URL for S3; nothing for memory. */
  const locate = (storedName: string): string | undefined => {
    switch (config.storage) {
      case "filesystem":
        return path.join(directory, storedName)
      case "s3":
        return Option.match(config.s3, {
          onNone: () => undefined,
          onSome: (s3) => `s3://${s3.bucket}/${s3.prefix}${storedName}`
        })
      case "memory":
        return undefined
    }
  }
  const withLocation = (event: UploadEvent): UploadEvent => {
    const location = event.stored_name === undefined ? undefined : locate(event.stored_name)
    return location === undefined ? event : { ...event, location }
  }
  const combined = Layer.effect(
    UploadEvents,
    Effect.gen(function*() {
      const sinks = [yield* Effect.serviceOption(WebhookSink), yield* Effect.serviceOption(StreamSink)].flatMap(Option.toArray)
      const all = fanOut([LogUploadEvents.publish, ...sinks])
      return UploadEvents.of({
        publish: (event) =>
          Effect.zipRight(
            Metric.increment(Metrics.uploadEvents(event.type)),
            all.publish(withLocation(event))
          )
      })
    })
  )
  const webhook = Option.map(config.events.webhook, (settings) =>
    Layer.scoped(
      WebhookSink,
      WebhookUploadEvents.make({
        url: settings.url,
        secret: settings.secret,
        maxAttempts: settings.maxAttempts,
        timeout: Duration.seconds(settings.timeoutSeconds),
        backoffBase: Duration.millis(settings.retryBaseMillis),
        queueSize: settings.queueSize
      })
    ).pipe(Layer.provide(deliveryStoreLayer(config, redis))))
  const stream = Option.flatMap(config.events.stream, ({ maxLength, name }) =>
    Option.map(redis, (client) =>
      Layer.unwrapEffect(
        Effect.map(
          Effect.promise(() => import("../redis/RedisEventStream.js")),
          (RedisEventStream) => Layer.effect(StreamSink, RedisEventStream.make({ stream: name, maxLength }))
        )
      ).pipe(Layer.provide(client))))
  const none: Layer.Layer<never> = Layer.empty
  const sinks: Layer.Layer<never, DeliveryStoreError | RedisConnectionError> = Layer.mergeAll(
    Option.getOrElse<Layer.Layer<WebhookSink, DeliveryStoreError | RedisConnectionError>, Layer.Layer<never>>(webhook, () => none),
    Option.getOrElse<Layer.Layer<StreamSink, RedisConnectionError>, Layer.Layer<never>>(stream, () => none)
  )
  return combined.pipe(Layer.provide(sinks))
}

/** The HTTP pre-upload hook when PRE_UPLOAD_HOOK_URL is set; nothing otherwise (every upload allowed). */
export const preUploadHookLayer = (config: AppConfig): Layer.Layer<PreUploadHook> | Layer.Layer<never> =>
  Option.match(config.events.preUploadHook, {
    onNone: () => Layer.empty,
    onSome: (hook) =>
      HttpPreUploadHook.layer({
        url: hook.url,
        secret: hook.secret,
        timeout: Duration.seconds(hook.timeoutSeconds),
        failOpen: hook.failOpen
      })
  })
