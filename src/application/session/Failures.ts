/**
 * What a session does when a step fails, and after a defect (a bug) in a
 * frame's handling. What a failure does to the upload decides (see
 * UploadFailure's `outcomeOf`): a suspended upload is kept for a resume, a
 * discarded one is reported as ended; the client is told why either way.
 */
import { Cause, Effect, LogLevel, Metric, Option } from "effect"
import * as Messages from "../../domain/Messages.js"
import * as Upload from "../../domain/Upload.js"
import * as Metrics from "../infrastructure/Metrics.js"
import { outcomeOf, storageRefusal, type UploadFailure } from "../uploads/UploadFailure.js"
import { logReference, redact } from "../uploads/UploadIds.js"
import type { Verdict } from "./Connection.js"
import type { SessionContext } from "./SessionContext.js"
import { failed, reasonOf, type UploadEnds } from "./UploadEnds.js"

export interface Failures {
  /**
   * Ends the step that failed with `error`: on upload `uploadId` when known
   * (its id never goes into a log line), or while `starting` one (nothing is
   * held yet). The session starts over from Idle.
   */
  readonly fail: (error: UploadFailure, context?: { readonly uploadId?: string; readonly starting?: boolean }) => Effect.Effect<void>
  /**
   * After a defect: the open upload is suspended, as on a dropped connection
   * (every byte it was answered for is in the store, and a resume checks
   * them again), and the session starts over from Idle; the defect is
   * logged, the client is told, and the connection goes on.
   */
  readonly recover: (defect: unknown) => Effect.Effect<Verdict>
}

export const make = ({ connection, log, state, uploads }: SessionContext, ends: UploadEnds): Failures => {
  const fail: Failures["fail"] = (error, { starting = false, uploadId } = {}) =>
    Effect.gen(function*() {
      const reported = redact(error.message, uploadId)
      const reference = uploadId === undefined ? {} : { upload: logReference(uploadId) }
      yield* state.moveTo(Upload.initial)
      const outcome = outcomeOf(error)
      if (outcome === "discarded") yield* ends.discardOpen(failed(reasonOf(error)))
      if (error._tag === "UploadRefused") {
        // Content and disk refusals are worth an operator's attention; the others are the client's mistakes.
        if (error.refusal.code === "content_mismatch" || error.refusal.code === "insufficient_storage") {
          yield* log(LogLevel.Warning, "upload refused", { reason: error.refusal.code })
        }
        return yield* connection.send(Messages.error(error.refusal))
      }
      if (outcome === "suspended") {
        // The store or registry could not be reached: the upload is kept for a resume, as on a dropped connection.
        yield* state.endOpen(uploads.suspend)
        yield* Metric.increment(Metrics.uploadsSuspendedByStorage)
        yield* log(LogLevel.Error, starting ? "upload not started: storage unavailable" : "upload suspended: storage unavailable", { ...reference, error: reported })
      } else {
        yield* log(LogLevel.Error, "upload discarded: storage failed", { ...reference, error: reported })
      }
      yield* connection.send(Messages.error(storageRefusal(error, starting)))
    })

  const recover = (defect: unknown): Effect.Effect<Verdict> =>
    Effect.gen(function*() {
      const active = yield* state.reset
      // A defect's text may hold an upload's id (in a path, say), and the id lets its holder resume the upload.
      const uploadId = Option.getOrUndefined(Option.map(active, (upload) => upload.uploadId))
      const logged = (level: LogLevel.LogLevel, message: string, cause: Cause.Cause<unknown>) =>
        log(level, message, {
          error: redact(Cause.pretty(cause), uploadId),
          ...(uploadId === undefined ? {} : { upload: logReference(uploadId) })
        })
      yield* logged(LogLevel.Error, "defect while handling a frame; answered internal_error", Cause.die(defect))
      if (Option.isSome(active)) {
        yield* uploads.suspend(active.value).pipe(
          Effect.catchAllCause((cause) => logged(LogLevel.Error, "could not suspend the upload after a defect", cause))
        )
      }
      yield* connection.send(Messages.internalError)
      return "continue" as const
    }).pipe(Effect.uninterruptible)

  return { fail, recover }
}
