/**
 * UploadSession: drives one client connection. Each inbound frame is counted
 * against the client's rate limit, decoded, run through the pure protocol
 * transition, and the resulting step is carried out (Steps); replies go back
 * through the connection. Frames are handled one at a time, in order, by the
 * connection's single fiber. The parts: SessionState (where the session is),
 * Admission (the hook and the quota), Steps, UploadEnds (events and metrics),
 * Failures (failed steps and defects), Closing (rate limit and timeouts).
 */
import { Context, Duration, Effect, Either, Layer, Option } from "effect"
import type { Scope } from "effect"
import * as Messages from "../../domain/Messages.js"
import type * as Refusal from "../../domain/Refusal.js"
import * as Refusals from "../../domain/Refusals.js"
import * as Upload from "../../domain/Upload.js"
import * as Finalizers from "../infrastructure/Finalizers.js"
import * as MetricUpdates from "../infrastructure/MetricUpdates.js"
import * as FrameLimits from "../limits/MessageRateLimits.js"
import * as Pacing from "../limits/Pacing.js"
import type * as UploadQuota from "../limits/UploadQuota.js"
import { ConcurrencyLimiter } from "../ports/ConcurrencyLimiter.js"
import type { FileStore } from "../ports/FileStore.js"
import * as PreUploadHook from "../ports/PreUploadHook.js"
import type { RateLimiter } from "../ports/RateLimiter.js"
import * as UploadEvents from "../ports/UploadEvents.js"
import type { UploadRegistry } from "../ports/UploadRegistry.js"
import * as Uploads from "../uploads/Uploads.js"
import * as Admission from "./Admission.js"
import * as Closing from "./Closing.js"
import type { Connection, Frame, Verdict } from "./Connection.js"
import * as Failures from "./Failures.js"
import { type SessionContext, sessionLog } from "./SessionContext.js"
import * as SessionState from "./SessionState.js"
import * as Steps from "./Steps.js"
import * as UploadEnds from "./UploadEnds.js"

export { binaryFrame, CLOSE_POLICY_VIOLATION, textFrame } from "./Connection.js"
export type { Connection, Frame, Verdict } from "./Connection.js"
export { bytesRateLimitExceeded } from "../limits/MessageRateLimits.js"
export { STORAGE_FAILED, STORAGE_UNAVAILABLE } from "../uploads/Uploads.js"

// The texts and close codes live in Refusals; these names are kept for the code and tests that use them.
export const CLOSE_IDLE = Refusals.CLOSE_CODES.idle
export const CLOSE_STALLED = Refusals.CLOSE_CODES.stalled
export const idleTimeout = (seconds: number) => Refusals.idleTimeout(seconds).message
export const uploadStalled = (seconds: number) => Refusals.uploadStalled(seconds).message

export interface SessionSettings {
  readonly upload: Upload.UploadPolicy
  readonly rateLimit: FrameLimits.FrameLimitSettings
  /** Most unfinished uploads per client (unlimited when absent). */
  readonly uploadQuota?: UploadQuota.UploadQuotaSettings
  /** How long to wait for a frame: `idle` with no upload open, `stall` with one (forever when absent). */
  readonly timeouts?: Closing.Timeouts
  /** Content and disk checks (CONTENT_CHECK, MIN_FREE_DISK_MB); none when absent. */
  readonly checks?: Uploads.UploadOptions
}

/** A session, driven by `SessionLoop.serve`. */
export interface OpenSession {
  /** Handles one frame and says whether the connection is still open. */
  readonly receive: (frame: Frame) => Effect.Effect<Verdict>
  /** How long to wait for the next frame (the stall timeout while an upload is open, else the idle timeout). */
  readonly patience: Effect.Effect<Option.Option<Duration.Duration>>
  /** Ends a connection whose `patience` ran out: suspends its upload (with an error saying so) and closes it. */
  readonly timeout: Effect.Effect<"closed">
}

export class UploadSession extends Context.Tag("file-receiver/UploadSession")<UploadSession, {
  /**
   * Opens a session for `connection`. Closing the scope suspends any
   * unfinished upload, so the client can resume it later.
   */
  readonly open: (connection: Connection) => Effect.Effect<OpenSession, never, Scope.Scope>
}>() {}

export const make = (settings: SessionSettings) =>
  Effect.gen(function*() {
    const unguarded = yield* Uploads.make(settings.checks)
    const concurrency = yield* ConcurrencyLimiter
    // Both optional: without them every upload is allowed and no event is sent.
    const emit = yield* UploadEvents.emitter
    const checkHook = yield* PreUploadHook.checker
    // Optional too: without it, replies are never held back.
    const pacing = yield* Effect.serviceOption(Pacing.Pacing)
    // Announced to clients, so that they can choose their chunk size and pace themselves.
    const rateLimit = {
      messages: settings.rateLimit.limit,
      periodSeconds: Duration.toSeconds(settings.rateLimit.window),
      bytes: settings.rateLimit.bytesLimit
    }
    const metaReceived = (uploadId: string, offset: number) =>
      Messages.metaReceived({ maxChunkBytes: settings.upload.maxChunkBytes, uploadId, offset, rateLimit })
    const overLimit = yield* FrameLimits.make(settings.rateLimit)

    const open = (connection: Connection) =>
      Effect.gen(function*() {
        const context: SessionContext = {
          connection,
          state: yield* SessionState.make,
          uploads: Admission.withQuota(unguarded, concurrency, settings.uploadQuota, connection.clientAddress),
          invitations: Option.isSome(pacing) ? yield* pacing.value.connection : Pacing.unpaced,
          log: sessionLog(connection)
        }
        const { invitations, state, uploads } = context
        // A dropped connection keeps its upload for a resume.
        yield* Finalizers.addFinalizer(state.endOpen(uploads.suspend))
        const ends = UploadEnds.make(context, emit)
        const failures = Failures.make(context, ends)
        const closing = Closing.make(context, settings.timeouts)
        const run = Steps.make(context, { ends, failures, admit: Admission.make(checkHook, connection, context.log), metaReceived })

        /** Runs the transition for `message`; a chunk's time goes to the chunk_seconds histogram. */
        const handle = (message: Messages.ClientMessage | Upload.ChunkBytes): Effect.Effect<void> =>
          Effect.flatMap(state.get, (session) => {
            // A step runs to the end even on shutdown, so no opened file escapes the session's bookkeeping.
            const step = Effect.uninterruptible(run(Upload.transition(session.state, message, settings.upload)))
            return message.type === "file_meta" || message.type === "cancel"
              ? step
              : MetricUpdates.timeChunk(step)
          })

        // Combinators rather than a generator: this runs for every frame. A defect ends the frame, not the connection.
        const receive = (frame: Frame): Effect.Effect<Verdict> =>
          Effect.catchAllDefect(
            Effect.zipRight(
              // The frame this connection was invited to send (if any) has come.
              invitations.settle,
              Effect.flatMap(overLimit(connection.clientAddress, frame.bytes.length, frame.continues === true), (exceeded) => {
                if (Option.isSome(exceeded)) return closing.overLimit(exceeded.value)
                const decoded: Either.Either<Messages.ClientMessage | Upload.ChunkBytes, Refusal.Refusal> = frame.isBinary
                  ? Either.right({ type: "chunk_bytes", bytes: frame.bytes })
                  : Messages.decodeFrame(frame.bytes)
                return Effect.as(
                  Either.isLeft(decoded) ? connection.send(Messages.error(decoded.left)) : handle(decoded.right),
                  "continue" as const
                )
              })
            ),
            failures.recover
          )

        return { receive, patience: closing.patience, timeout: closing.timeout } satisfies OpenSession
      })

    return UploadSession.of({ open })
  })

export const layer = (
  settings: SessionSettings
): Layer.Layer<UploadSession, never, FileStore | RateLimiter | UploadRegistry | ConcurrencyLimiter> =>
  Layer.effect(UploadSession, make(settings))
