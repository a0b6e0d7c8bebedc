/**
 * Upload events and the pre-upload hook, picked from the configuration: the
 * log line always; the webhook with WEBHOOK_URL (its deliveries in Redis or
 * in a journal file); the Redis stream with EVENTS_STREAM; the HTTP hook
 * with PRE_UPLOAD_HOOK_URL.
 */
import { Layer, Option } from "effect"
import { Deliveries, type EventsConfig } from "../adapters/config/EventsConfig.js"
import type { Storage } from "../adapters/config/StorageConfig.js"
import * as Events from "../adapters/events/Events.js"
import * as FsDeliveryJournal from "../adapters/fs/FsDeliveryJournal.js"
import type { DeliveryStore, DeliveryStoreError } from "../application/ports/DeliveryStore.js"
import type { RedisConnectionError } from "../adapters/redis/RedisClient.js"
import * as HttpPreUploadHook from "../adapters/webhook/HttpPreUploadHook.js"
import * as Redis from "./Redis.js"
import { locate } from "./Storage.js"

const deliveryStore = (deliveries: Deliveries): Layer.Layer<DeliveryStore, DeliveryStoreError | RedisConnectionError> =>
  Deliveries.$match(deliveries, {
    journal: ({ directory }) => FsDeliveryJournal.layer(directory),
    redis: ({ redis }) =>
      Redis.lazy(() => import("../adapters/redis/RedisDeliveryStore.js"), (RedisDeliveryStore) => RedisDeliveryStore.layer(redis.keyPrefix))
        .pipe(Redis.onClient(redis))
  })

const none: Layer.Layer<never> = Layer.empty

/** UploadEvents with every configured receiver; completed events say where `storage` keeps the file. */
export const uploadEvents = (events: EventsConfig, storage: Storage) => {
  const webhook = Option.match(events.webhook, {
    onNone: () => none,
    onSome: ({ deliveries, settings }) => Events.webhookSink(settings).pipe(Layer.provide(deliveryStore(deliveries)))
  })
  const stream = Option.match(events.stream, {
    onNone: () => none,
    onSome: ({ redis, settings }) => Events.streamSink(settings).pipe(Redis.onClient(redis))
  })
  return Events.layer(locate(storage)).pipe(Layer.provide(Layer.merge(webhook, stream)))
}

/** The HTTP hook, or nothing: then every upload is allowed. */
export const preUploadHook = (events: EventsConfig) =>
  Option.match(events.preUploadHook, { onNone: () => none, onSome: HttpPreUploadHook.layer })
