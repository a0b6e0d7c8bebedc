/**
 * UploadEvents receiver that appends every event to a Redis Stream with
 * XADD (length capped with `MAXLEN ~`), for consumers reading with
 * XREADGROUP. Each entry has the fields `id`, `type` and `event` (the event
 * as JSON). The XADD runs in the background: a slow or absent Redis never
 * holds up an upload; a failed XADD is logged and counted.
 */
import { Effect, Metric } from "effect"
import * as Metrics from "../../application/infrastructure/Metrics.js"
import type { UploadEvent } from "../../application/ports/UploadEvents.js"
import { RedisClient } from "./RedisClient.js"

export interface StreamSettings {
  readonly stream: string
  /** Approximate number of entries the stream keeps. */
  readonly maxLength: number
}

export const make = (settings: StreamSettings): Effect.Effect<(event: UploadEvent) => Effect.Effect<void>, never, RedisClient> =>
  Effect.map(RedisClient, (redis) => (event: UploadEvent) =>
    Effect.tryPromise(() =>
      redis.xadd(settings.stream, "MAXLEN", "~", settings.maxLength, "*", "id", event.id, "type", event.type, "event", JSON.stringify(event))
    ).pipe(
      Effect.catchAll((error) =>
        Effect.zipRight(
          Metric.increment(Metrics.eventStreamErrors),
          Effect.logError("event stream: XADD failed; event not written").pipe(
            Effect.annotateLogs({ event: event.id, type: event.type, stream: settings.stream, error: String(error.cause) })
          )
        )
      ),
      Effect.forkDaemon,
      Effect.asVoid
    ))
