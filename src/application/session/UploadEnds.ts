/**
 * How the end of an upload is reported, in one place: the UploadEvents
 * event, the metric and, for a completion, the log line all come from one
 * `Ending`, so events and metrics give the same reason. An upload ends when
 * it is completed, discarded or cancelled; a suspended one has not ended.
 */
import { Effect, LogLevel, Metric } from "effect"
import type * as Refusal from "../../domain/Refusal.js"
import * as MetricUpdates from "../infrastructure/MetricUpdates.js"
import * as Metrics from "../infrastructure/Metrics.js"
import { outOfSpace } from "../ports/FileStore.js"
import type * as UploadEvents from "../ports/UploadEvents.js"
import type { ActiveUpload, UploadFailure } from "../uploads/Uploads.js"
import { logReference } from "../uploads/UploadIds.js"
import type { SessionContext } from "./SessionContext.js"

/** How an upload ended: completed, or failed or cancelled for a reason. */
export type Ending =
  | { readonly type: "upload.completed"; readonly storedName: string; readonly extension: string; readonly sha256: string | undefined }
  | { readonly type: "upload.failed" | "upload.cancelled"; readonly reason: UploadEvents.UploadEndReason }

export const failed = (reason: UploadEvents.UploadEndReason): Ending => ({ type: "upload.failed", reason })
/** The client sent cancel. */
export const cancelled: Ending = { type: "upload.cancelled", reason: "cancelled" }
/** The client sent a new file_meta during the upload. */
export const replaced: Ending = { type: "upload.cancelled", reason: "replaced" }

/** The reason of a refusal that ends an upload, where it has one of its own. */
const REFUSAL_REASONS: Partial<Record<Refusal.RefusalCode, UploadEvents.UploadEndReason>> = {
  checksum_mismatch: "checksum",
  content_mismatch: "content",
  exceeds_size: "overflow",
  insufficient_storage: "disk"
}

/** Why `error` ended an upload. */
export const reasonOf = (error: UploadFailure): UploadEvents.UploadEndReason =>
  error._tag === "UploadRefused"
    ? REFUSAL_REASONS[error.refusal.code] ?? "refused"
    : error._tag === "FileStoreError" && outOfSpace(error)
    ? "disk"
    : "storage"

/** What is known of an upload that ended (an upload open on the session knows when it started). */
export interface EndedUpload {
  readonly uploadId: string
  readonly fileName: string
  readonly size: number
  readonly startedAt?: number
  /** What the registry holds of it, when the session had it open (its file_type, for one). */
  readonly record?: { readonly fileType?: string | undefined }
}

export interface UploadEnds {
  /** Reports that `upload` ended as `ending`. */
  readonly report: (upload: EndedUpload, ending: Ending) => Effect.Effect<void>
  /** Discards `upload` and reports it as `ending`. */
  readonly discard: (upload: ActiveUpload, ending: Ending) => Effect.Effect<void>
  /** Discards the session's open upload, if any, and reports it as `ending`. */
  readonly discardOpen: (ending: Ending) => Effect.Effect<void>
}

export const make = (context: SessionContext, emit: (outcome: UploadEvents.UploadOutcome) => Effect.Effect<void>): UploadEnds => {
  const { connection, log, state, uploads } = context
  const report = (upload: EndedUpload, ending: Ending) =>
    Effect.zipRight(
      emit({
        uploadId: upload.uploadId,
        fileName: upload.fileName,
        fileType: upload.record?.fileType,
        size: upload.size,
        startedAt: upload.startedAt,
        clientAddress: connection.clientAddress,
        identity: connection.identity,
        ...ending
      }),
      ending.type === "upload.completed"
        ? Effect.zipRight(
          MetricUpdates.add(Metrics.uploadsCompleted, 1),
          log(LogLevel.Info, "upload completed", { upload: logReference(upload.uploadId), storedName: ending.storedName, ...(ending.sha256 === undefined ? {} : { sha256: ending.sha256 }) })
        )
        : Metric.increment(Metrics.uploadsFailed(ending.reason))
    )
  const discard = (upload: ActiveUpload, ending: Ending) => Effect.zipRight(uploads.discard(upload), report(upload, ending))
  return { report, discard, discardOpen: (ending) => state.endOpen((upload) => discard(upload, ending)) }
}
