/**
 * The service's metrics, on effect's Metric (one registry, read by GET
 * /metrics). Names follow Prometheus conventions; `_total` counters.
 */
import { Metric, MetricBoundaries } from "effect"
import type { UploadEndReason, UploadEventType } from "../ports/UploadEvents.js"

/**
 * `make` once per label value (a closed set: never a client's text), rather
 * than a new metric for every update. Updated inside a connection, a
 * labelled metric still makes a key per update: Effect joins its label with
 * the fiber's `transport` into a new array each time.
 */
const perLabel = <K extends string, M>(make: (label: K) => M): (label: K) => M => {
  const made = new Map<K, M>()
  return (label) => {
    let metric = made.get(label)
    if (metric === undefined) {
      metric = make(label)
      made.set(label, metric)
    }
    return metric
  }
}

export const activeConnections = Metric.gauge("file_receiver_active_connections", {
  description: "WebSocket connections open now, past the connection limits"
})

export const uploadsStarted = Metric.counter("file_receiver_uploads_started_total", {
  description: "Uploads started (new, not resumed)",
  incremental: true
})

export const uploadsResumed = Metric.counter("file_receiver_uploads_resumed_total", {
  description: "Uploads resumed with an upload_id",
  incremental: true
})

export const completionsRepeated = Metric.counter("file_receiver_completions_repeated_total", {
  description: "Resumes of a completed upload, answered with its file_received again",
  incremental: true
})

export const uploadsCompleted = Metric.counter("file_receiver_uploads_completed_total", {
  description: "Uploads stored under their final name",
  incremental: true
})

/** Uploads that ended without a file, by the `reason` of their upload.failed or upload.cancelled event (see session/UploadEnds). */
export const uploadsFailed = perLabel((reason: UploadEndReason) =>
  Metric.counter("file_receiver_uploads_failed_total", {
    description: "Uploads that ended without a stored file, by reason",
    incremental: true
  }).pipe(Metric.tagged("reason", reason)))

export const uploadsSuspendedByStorage = Metric.counter("file_receiver_uploads_suspended_by_storage_total", {
  description: "Uploads suspended, kept for a resume, because the store or the upload registry could not be reached",
  incremental: true
})

export const bytesReceived = Metric.counter("file_receiver_bytes_received_total", {
  description: "Upload bytes handed to the store",
  incremental: true
})

export const rateLimitCloses = Metric.counter("file_receiver_rate_limit_closes_total", {
  description: "Connections closed with 1008 for exceeding the rate limit",
  incremental: true
})

export const rateLimiterErrors = Metric.counter("file_receiver_rate_limiter_errors_total", {
  description: "Calls to the shared limiter store (Redis) that failed; the limits were enforced in memory for them",
  incremental: true
})

export const chunkSeconds = Metric.histogram(
  "file_receiver_chunk_processing_seconds",
  MetricBoundaries.exponential({ start: 0.0001, factor: 2, count: 16 }),
  "Time to handle one chunk once it is decoded (after the rate-limit check): the protocol step, content check, hashing, the store's append and the reply"
)

/** Connections refused, by `reason`: origin (403), token (401), limit (1013). */
export const connectionsRefused = perLabel((reason: "origin" | "token" | "limit") =>
  Metric.counter("file_receiver_connections_refused_total", {
    description: "WebSocket connections refused at or right after the handshake, by reason",
    incremental: true
  }).pipe(Metric.tagged("reason", reason)))

/** Connections closed for sending nothing, by `kind`: idle (4000) or stalled upload (4001). */
export const timeoutCloses = perLabel((kind: "idle" | "stalled") =>
  Metric.counter("file_receiver_timeout_closes_total", {
    description: "Connections closed by the idle or upload-stall timeout",
    incremental: true
  }).pipe(Metric.tagged("kind", kind)))

export const preUploadHookRefusals = Metric.counter("file_receiver_pre_upload_hook_refusals_total", {
  description: "Uploads, new or resumed, refused by the pre-upload hook (or because it could not be asked)",
  incremental: true
})

/** Upload events handed to the receivers, by `type` (upload.completed, ...). */
export const uploadEvents = perLabel((type: UploadEventType) =>
  Metric.counter("file_receiver_upload_events_total", {
    description: "Upload events emitted, by type",
    incremental: true
  }).pipe(Metric.tagged("type", type)))

export const webhookDeliveriesPending = Metric.gauge("file_receiver_webhook_deliveries_pending", {
  description: "Webhook deliveries not yet acknowledged (queued in memory or in the durable store)"
})

export const webhookDeliveriesSucceeded = Metric.counter("file_receiver_webhook_deliveries_succeeded_total", {
  description: "Webhook deliveries acknowledged with a 2xx answer",
  incremental: true
})

/** Webhook deliveries given up, by `reason`: attempts (retry limit), rejected (4xx answer), overflow (queue full: the event was dropped). */
export const webhookDeliveriesFailed = perLabel((reason: "attempts" | "rejected" | "overflow") =>
  Metric.counter("file_receiver_webhook_deliveries_failed_total", {
    description: "Webhook deliveries given up (dead-lettered, or dropped when the queue was full), by reason",
    incremental: true
  }).pipe(Metric.tagged("reason", reason)))

export const eventStreamErrors = Metric.counter("file_receiver_event_stream_errors_total", {
  description: "Upload events that could not be written to the Redis stream",
  incremental: true
})
