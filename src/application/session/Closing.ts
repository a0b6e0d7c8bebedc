/**
 * When a session closes its connection: a frame over the rate limit, or
 * nothing received in time (the idle timeout with no upload open, the stall
 * timeout with one, which is suspended first so it can be resumed). Each
 * close follows an `error` reply that says why.
 */
import { Duration, Effect, LogLevel, Metric, Option } from "effect"
import * as Messages from "../../domain/Messages.js"
import type * as Refusal from "../../domain/Refusal.js"
import * as Refusals from "../../domain/Refusals.js"
import * as Upload from "../../domain/Upload.js"
import * as Metrics from "../infrastructure/Metrics.js"
import { logReference } from "../uploads/UploadIds.js"
import type { SessionContext } from "./SessionContext.js"

/** How long to wait for a frame: `idle` with no upload open, `stall` with one (forever when absent). */
export interface Timeouts {
  readonly idle?: Duration.Duration
  readonly stall?: Duration.Duration
}

export const make = ({ connection, log, state, uploads }: SessionContext, timeouts: Timeouts = {}) => {
  const overLimit = (refusal: Refusal.Refusal) =>
    Effect.gen(function*() {
      yield* Metric.increment(Metrics.rateLimitCloses)
      yield* log(LogLevel.Warning, "rate limit exceeded; closing", { reason: refusal.message })
      yield* connection.send(Messages.error(refusal))
      yield* connection.close(Refusals.CLOSE_CODES.policyViolation, Refusals.CLOSE_REASONS.policyViolation)
      return "closed" as const
    })

  const patience = Effect.map(state.get, (s) => Option.fromNullable(Option.isSome(s.active) ? timeouts.stall : timeouts.idle))

  const timeout = Effect.gen(function*() {
    const active = yield* state.takeOpen
    if (Option.isSome(active)) {
      yield* Metric.increment(Metrics.timeoutCloses("stalled"))
      yield* Effect.uninterruptible(uploads.suspend(active.value))
      yield* state.moveTo(Upload.initial)
      yield* log(LogLevel.Info, "upload stalled; suspended it and closing", { upload: logReference(active.value.uploadId) })
      yield* connection.send(Messages.error(Refusals.uploadStalled(Duration.toSeconds(timeouts.stall ?? Duration.zero))))
      yield* connection.close(Refusals.CLOSE_CODES.stalled, Refusals.CLOSE_REASONS.stalled)
    } else {
      yield* Metric.increment(Metrics.timeoutCloses("idle"))
      yield* log(LogLevel.Debug, "connection idle; closing")
      yield* connection.send(Messages.error(Refusals.idleTimeout(Duration.toSeconds(timeouts.idle ?? Duration.zero))))
      yield* connection.close(Refusals.CLOSE_CODES.idle, Refusals.CLOSE_REASONS.idle)
    }
    return "closed" as const
  })

  return { overLimit, patience, timeout }
}
