/**
 * The UploadEvents port: tells other systems how an upload ended (completed,
 * failed, cancelled, expired). Publishing never fails and never waits on the
 * receivers: adapters queue and deliver in the background. Events are only
 * emitted once the upload is over, so the upload id they carry can no longer
 * resume or cancel anything.
 */
import { Clock, Context, Effect, Layer, Option } from "effect"
import { randomUUID } from "node:crypto"
import { logReference } from "../uploads/Uploads.js"

export type UploadEventType = "upload.completed" | "upload.failed" | "upload.cancelled" | "upload.expired"

/**
 * Why an upload ended without a file: `storage` (the store failed),
 * `checksum` (sha256 mismatch), `overflow` (a chunk past file_size),
 * `cancelled` (the client sent cancel), `replaced` (a new file_meta during
 * the upload).
 */
export type UploadEndReason = "storage" | "checksum" | "content" | "disk" | "overflow" | "cancelled" | "replaced" | "refused"

/**
 * One event, as it is sent (JSON, snake_case like the wire protocol).
 * Optional fields are absent when unknown. Never holds file contents or secrets.
 */
export interface UploadEvent {
  /** Unique per event; receivers dedupe by it (delivery is at least once). */
  readonly id: string
  readonly type: UploadEventType
  /** ISO 8601, when the upload ended. */
  readonly occurred_at: string
  readonly upload_id: string
  /** The first 16 hex digits of sha256(upload_id), as in the server's logs. */
  readonly upload_ref: string
  /** file_name as the client sent it. */
  readonly file_name?: string
  /** The media type the client gave (file_meta's file_type, tus' filetype metadata). */
  readonly file_type?: string
  /** The name the file was stored under (completed only). */
  readonly stored_name?: string
  readonly size?: number
  readonly extension?: string
  readonly sha256?: string
  /** Where the file is stored: an absolute path (completed only). */
  readonly location?: string
  readonly client_address?: string
  /** The authenticated identity of the client, when auth is on. */
  readonly identity?: string
  /** ISO 8601, when the upload started. */
  readonly started_at?: string
  readonly reason?: UploadEndReason
}

/** What the application knows when an upload ends; the port fills in id, time and reference. */
export interface UploadOutcome {
  readonly type: UploadEventType
  readonly uploadId: string
  readonly fileName?: string | undefined
  readonly fileType?: string | undefined
  readonly storedName?: string | undefined
  readonly size?: number | undefined
  readonly extension?: string | undefined
  readonly sha256?: string | undefined
  readonly location?: string | undefined
  readonly clientAddress?: string | undefined
  readonly identity?: string | undefined
  /** Milliseconds since the epoch. */
  readonly startedAt?: number | undefined
  readonly reason?: UploadEndReason | undefined
}

export class UploadEvents extends Context.Tag("file-receiver/UploadEvents")<UploadEvents, {
  /**
   * Hands `event` to every configured receiver. Returns at once (delivery
   * happens in the background); never fails: a receiver that cannot take
   * the event logs it and counts it in the metrics.
   */
  readonly publish: (event: UploadEvent) => Effect.Effect<void>
}>() {}

const iso = (millis: number) => new Date(millis).toISOString()

/** Builds the event for `outcome`, with a fresh id and the current time. */
export const eventFor = (outcome: UploadOutcome): Effect.Effect<UploadEvent> =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    const optional: Record<string, unknown> = {
      file_name: outcome.fileName,
      file_type: outcome.fileType,
      stored_name: outcome.storedName,
      size: outcome.size,
      extension: outcome.extension,
      sha256: outcome.sha256,
      location: outcome.location,
      client_address: outcome.clientAddress,
      identity: outcome.identity,
      started_at: outcome.startedAt === undefined ? undefined : iso(outcome.startedAt),
      reason: outcome.reason
    }
    for (const key of Object.keys(optional)) if (optional[key] === undefined) delete optional[key]
    return {
      id: randomUUID(),
      type: outcome.type,
      occurred_at: iso(now),
      upload_id: outcome.uploadId,
      upload_ref: logReference(outcome.uploadId),
      ...optional
    } as UploadEvent
  })

/**
 * The publisher of the UploadEvents service in the current context, or one
 * that drops events when none is provided (the service is optional, so
 * callers built before events existed need no change).
 */
export const emitter: Effect.Effect<(outcome: UploadOutcome) => Effect.Effect<void>> = Effect.map(
  Effect.serviceOption(UploadEvents),
  Option.match({
    onNone: () => () => Effect.void,
    onSome: (events) => (outcome: UploadOutcome) => Effect.flatMap(eventFor(outcome), events.publish)
  })
)

/** Publishes to every sink in turn (each returns at once). */
export const fanOut = (sinks: ReadonlyArray<(event: UploadEvent) => Effect.Effect<void>>) =>
  UploadEvents.of({ publish: (event) => Effect.forEach(sinks, (sink) => sink(event), { discard: true }) })

/** Drops every event (for tests and wiring that needs none). */
export const layerNone: Layer.Layer<UploadEvents> = Layer.succeed(UploadEvents, UploadEvents.of({ publish: () => Effect.void }))
