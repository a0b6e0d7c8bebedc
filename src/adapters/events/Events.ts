/**
 * Upload events, fanned out to every receiver behind one UploadEvents: the
 * log line always, and the webhook and the Redis stream when their sinks
 * are provided (the wiring provides those that are configured). A completed
 * event gets where its file is stored.
 */
import { Context, Effect, Layer, Metric, Option } from "effect"
import * as Metrics from "../../application/infrastructure/Metrics.js"
import type { DeliveryStore } from "../../application/ports/DeliveryStore.js"
import { fanOut, type UploadEvent, UploadEvents } from "../../application/ports/UploadEvents.js"
import type { RedisClient } from "../redis/RedisClient.js"
import type { StreamSettings } from "../redis/RedisEventStream.js"
import * as WebhookUploadEvents from "../webhook/WebhookUploadEvents.js"
import * as LogUploadEvents from "./LogUploadEvents.js"

type Publish = (event: UploadEvent) => Effect.Effect<void>

export class WebhookSink extends Context.Tag("file-receiver/events/WebhookSink")<WebhookSink, Publish>() {}
export class StreamSink extends Context.Tag("file-receiver/events/StreamSink")<StreamSink, Publish>() {}

/** The webhook receiver, its deliveries kept in the DeliveryStore it is given. */
export const webhookSink = (settings: WebhookUploadEvents.WebhookSettings): Layer.Layer<WebhookSink, never, DeliveryStore> =>
  Layer.scoped(WebhookSink, WebhookUploadEvents.make(settings))

/** The Redis stream receiver; its module (and ioredis) is loaded only when this layer is built. */
export const streamSink = (settings: StreamSettings): Layer.Layer<StreamSink, never, RedisClient> =>
  Layer.unwrapEffect(
    Effect.map(
      Effect.promise(() => import("../redis/RedisEventStream.js")),
      (RedisEventStream) => Layer.effect(StreamSink, RedisEventStream.make(settings))
    )
  )

/**
 * Every receiver behind one UploadEvents, counted per event type. `locate`
 * says where a stored file lives (a path, an s3:// URL; undefined where it
 * has no address), for the `location` of completed events.
 */
export const layer = (locate: (storedName: string) => string | undefined): Layer.Layer<UploadEvents> => {
  const withLocation = (event: UploadEvent): UploadEvent => {
    const location = event.stored_name === undefined ? undefined : locate(event.stored_name)
    return location === undefined ? event : { ...event, location }
  }
  return Layer.effect(
    UploadEvents,
    Effect.gen(function*() {
      const sinks = [yield* Effect.serviceOption(WebhookSink), yield* Effect.serviceOption(StreamSink)].flatMap(Option.toArray)
      const all = fanOut([LogUploadEvents.publish, ...sinks])
      return UploadEvents.of({
        publish: (event) => Effect.zipRight(Metric.increment(Metrics.uploadEvents(event.type)), all.publish(withLocation(event)))
      })
    })
  )
}
