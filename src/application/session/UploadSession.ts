/**
 * UploadSession: drives one client connection. Each inbound frame is counted
 * against the client's rate limit, decoded, run through the pure protocol
 * transition, and the resulting step is carried out against the FileStore;
 * replies go back through the connection. Frames are handled one at a time,
 * in order, by the connection's single fiber.
 */
import { Cause, Context, Duration, Effect, Either, Layer, Metric, Option, Ref } from "effect"
import type { Scope } from "effect"
import type { SafeFileName } from "../../domain/FileName.js"
import * as Messages from "../../domain/Messages.js"
import * as Refusal from "../../domain/Refusal.js"
import * as Refusals from "../../domain/Refusals.js"
import * as Upload from "../../domain/Upload.js"
import * as Uploads from "../uploads/Uploads.js"
import * as Metrics from "../infrastructure/Metrics.js"
import type { ActiveUpload, UploadFailure } from "../uploads/Uploads.js"
import { type FileStore, outOfSpace } from "../ports/FileStore.js"
import * as PreUploadHook from "../ports/PreUploadHook.js"
import * as UploadEvents from "../ports/UploadEvents.js"
import { CLOSE_POLICY_VIOLATION, type Connection, type Frame, type Verdict } from "./Connection.js"
import * as Finalizers from "../infrastructure/Finalizers.js"
import * as FrameLimits from "../limits/MessageRateLimits.js"
import * as Pacing from "../limits/Pacing.js"
import type { RateLimiter } from "../ports/RateLimiter.js"
import type { UploadRegistry } from "../ports/UploadRegistry.js"
import { ConcurrencyLimiter } from "../ports/ConcurrencyLimiter.js"
import * as UploadQuota from "../limits/UploadQuota.js"

export { binaryFrame, CLOSE_POLICY_VIOLATION, textFrame } from "./Connection.js"
export type { Connection, Frame, Verdict } from "./Connection.js"

export interface SessionSettings {
  readonly upload: Upload.UploadPolicy
  readonly rateLimit: FrameLimits.FrameLimitSettings
  /** Most unfinished uploads per client (unlimited when absent). */
  readonly uploadQuota?: UploadQuota.UploadQuotaSettings
  /** How long to wait for a frame: `idle` with no upload open, `stall` with one (forever when absent). */
  readonly timeouts?: { readonly idle?: Duration.Duration; readonly stall?: Duration.Duration }
  /** Content and disk checks (CONTENT_CHECK, MIN_FREE_DISK_MB); none when absent. */
  readonly checks?: Uploads.UploadOptions
}

// The texts and close codes live in Refusals.
export const CLOSE_IDLE = Refusals.CLOSE_CODES.idle
export const CLOSE_STALLED = Refusals.CLOSE_CODES.stalled
export const idleTimeout = (seconds: number) => Refusals.idleTimeout(seconds).message
export const uploadStalled = (seconds: number) => Refusals.uploadStalled(seconds).message
export { bytesRateLimitExceeded } from "../limits/MessageRateLimits.js"

export { STORAGE_FAILED, STORAGE_UNAVAILABLE } from "../uploads/Uploads.js"

/** The event reason of a refusal that ends an upload, where it has one of its own. */
const END_REASONS: Partial<Record<Refusal.RefusalCode, UploadEvents.UploadEndReason>> = {
  checksum_mismatch: "checksum",
  content_mismatch: "content",
  insufficient_storage: "disk"
}

interface Session {
  readonly state: Upload.UploadState
  readonly active: Option.Option<ActiveUpload>
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
        const session = yield* Ref.make<Session>({ state: Upload.initial, active: Option.none() })
        const invitations = Option.isSome(pacing) ? yield* pacing.value.connection : Pacing.unpaced
        const client = {
          client: connection.clientAddress,
          ...(connection.identity === undefined ? {} : { identity: connection.identity })
        }
        /** A log line's annotations: the client's and `fields`, set in one step (each step copies the fiber's FiberRefs). */
        const log = (fields: Record<string, unknown> = {}) => Effect.annotateLogs({ ...client, ...fields })
        const uploads = settings.uploadQuota === undefined
          ? unguarded
          : UploadQuota.guard(unguarded, concurrency, settings.uploadQuota, connection.clientAddress)

        /** Takes the open upload out of the session (it is then this caller's to end). */
        const takeActive = Ref.modify(session, (s) => [s.active, { ...s, active: Option.none() }])
        const endActive = (end: (upload: ActiveUpload) => Effect.Effect<void>) =>
          Effect.flatMap(takeActive, Option.match({ onNone: () => Effect.void, onSome: end }))
        // A dropped connection keeps its upload for a resume.
        yield* Finalizers.addFinalizer(endActive(uploads.suspend))

        /** Tells the UploadEvents receivers that `upload` has ended. */
        const ended = (upload: ActiveUpload, outcome: Omit<UploadEvents.UploadOutcome, "uploadId">) =>
          emit({
            uploadId: upload.uploadId,
            fileName: upload.fileName,
            size: upload.size,
            startedAt: upload.startedAt,
            clientAddress: connection.clientAddress,
            identity: connection.identity,
            ...outcome
          })
        /** Discards the open upload (if any) and reports how it ended. */
        const discardAs = (type: "upload.failed" | "upload.cancelled", reason: UploadEvents.UploadEndReason) =>
          endActive((upload) => Effect.zipRight(uploads.discard(upload), ended(upload, { type, reason })))
        /** Why an upload ended, for events and metrics alike. */
        const failureReason = (error: UploadFailure): UploadEvents.UploadEndReason =>
          error._tag === "UploadRefused"
            ? END_REASONS[error.refusal.code] ?? "refused"
            : error._tag === "FileStoreError" && outOfSpace(error)
            ? "disk"
            : "storage"

        /**
         * Ends the step that failed with `error`: on upload `uploadId` when known (its id never goes into a
         * log line), or while `starting` one (nothing is held yet).
         */
        const fail = (error: UploadFailure, context: { readonly uploadId?: string; readonly starting?: boolean } = {}) =>
          Effect.gen(function*() {
            const { starting = false, uploadId } = context
            const reported = Uploads.redact(error.message, uploadId)
            const reference = uploadId === undefined ? {} : { upload: Uploads.logReference(uploadId) }
            yield* Ref.update(session, (s) => ({ ...s, state: Upload.initial }))
            const outcome = Uploads.outcomeOf(error)
            if (outcome === "suspended") {
              // The store or registry could not be reached: the upload is kept for a resume, as on a dropped connection.
              yield* endActive(uploads.suspend)
              yield* Metric.increment(Metrics.uploadsSuspendedByStorage)
              yield* Effect.logError(starting ? "upload not started: storage unavailable" : "upload suspended: storage unavailable").pipe(
                log({ ...reference, error: reported })
              )
              return yield* connection.send(
                Messages.error(Refusal.make("storage_unavailable", starting ? Uploads.STORAGE_UNAVAILABLE_AT_START : Uploads.STORAGE_UNAVAILABLE))
              )
            }
            if (error._tag === "UploadRefused") {
              // A takeover leaves the upload to the other connection; a hook's refusal is counted as the hook's.
              if (outcome === "discarded" && error.refusal.code !== "upload_refused") {
                yield* Metric.increment(Metrics.uploadsFailed(failureReason(error)))
                yield* discardAs("upload.failed", failureReason(error))
              }
              // Content and disk refusals are worth an operator's attention; the others are the client's mistakes.
              if (error.refusal.code === "content_mismatch" || error.refusal.code === "insufficient_storage") {
                yield* Effect.logWarning("upload refused").pipe(log({ reason: error.refusal.code }))
              }
              return yield* connection.send(Messages.error(error.refusal))
            }
            yield* Metric.increment(Metrics.uploadsFailed(failureReason(error)))
            yield* discardAs("upload.failed", failureReason(error))
            yield* Effect.logError("upload discarded: storage failed").pipe(log({ ...reference, error: reported }))
            yield* connection.send(
              Messages.error(outOfSpace(error) ? Refusal.make("disk_full", Uploads.DISK_FULL) : Refusal.make("storage_failed", Uploads.STORAGE_FAILED))
            )
          })

        const complete = (upload: ActiveUpload, file: SafeFileName, size: number, expectedSha256: string | undefined) =>
          Effect.gen(function*() {
            yield* Ref.update(session, (s) => ({ ...s, active: Option.none() }))
            const { sha256, storedName } = yield* uploads.finish(upload, file, size, expectedSha256).pipe(
              Effect.tapError((error) =>
                // Taken over, or suspended: the upload lives on, with the other connection or for a resume.
                Uploads.outcomeOf(error) !== "discarded"
                  ? Effect.void
                  : ended(upload, { type: "upload.failed", reason: failureReason(error) })
              )
            )
            yield* ended(upload, { type: "upload.completed", storedName, extension: file.extension, sha256 })
            yield* Metric.increment(Metrics.uploadsCompleted)
            yield* Effect.logInfo("upload completed").pipe(log({ upload: Uploads.logReference(upload.uploadId), storedName, sha256 }))
            yield* connection.send(Messages.fileReceived(storedName, file.extension, sha256))
          })

        const opened = (upload: ActiveUpload, state: Upload.UploadState, offset: number) =>
          Effect.zipRight(
            Ref.set(session, { state, active: Option.some(upload) }),
            // meta_received asks for the first chunk: it waits for an invitation (see Pacing).
            Effect.zipRight(invitations.invite, connection.send(metaReceived(upload.uploadId, offset)))
          )

        /** Runs `step`. */
        const run = (step: Upload.Step): Effect.Effect<void> =>
          Upload.Step.$match(step, {
            // A refusal that discards the open upload: a chunk past its size ends it, anything else replaces it.
            Refuse: ({ discard, next, refusal }) =>
              Effect.zipRight(
                discard
                  ? Effect.zipRight(
                    refusal.code === "exceeds_size" ? discardAs("upload.failed", "overflow") : discardAs("upload.cancelled", "replaced"),
                    Metric.increment(Metrics.uploadsFailed("overflow"))
                  )
                  : Effect.void,
                Effect.zipRight(Ref.update(session, (s) => ({ ...s, state: next })), connection.send(Messages.error(refusal)))
              ),
            Start: ({ completed, expectedSha256, file, fileName, next, replaces, size }) =>
              Effect.gen(function*() {
                if (replaces) yield* discardAs("upload.cancelled", "replaced")
                const verdict = yield* checkHook({
                  fileName,
                  size,
                  sha256: expectedSha256,
                  clientAddress: connection.clientAddress,
                  identity: connection.identity
                })
                if (verdict._tag === "Refused") {
                  yield* Metric.increment(Metrics.preUploadHookRefusals)
                  yield* Effect.logInfo("upload refused by the pre-upload hook").pipe(log({ file: file.name, size, reason: verdict.reason }))
                  yield* Ref.update(session, (s) => ({ ...s, state: Upload.initial }))
                  return yield* connection.send(Messages.error(Refusal.make("upload_refused", verdict.reason)))
                }
                const upload = yield* uploads.start(fileName, size, expectedSha256, file.extension, connection.identity)
                yield* opened(upload, next, 0)
                yield* Metric.increment(Metrics.uploadsStarted)
                yield* Effect.logInfo("upload started").pipe(log({ upload: Uploads.logReference(upload.uploadId), file: file.name, size }))
                if (completed) yield* complete(upload, file, size, expectedSha256)
              }).pipe(Effect.catchAll((error) => fail(error, { starting: true }))),
            Resume: (resume) =>
              Effect.gen(function*() {
                // Resuming the upload this connection has open (say, after a lost reply) continues it.
                if (resume.replaces) {
                  yield* endActive((open) =>
                    open.uploadId === resume.uploadId
                      ? uploads.suspend(open)
                      : Effect.zipRight(uploads.discard(open), ended(open, { type: "upload.cancelled", reason: "replaced" }))
                  )
                }
                // The hook decides on every upload that goes on writing, resumed ones too (a policy may have changed),
                // before anything is claimed or read back.
                const admit = () =>
                  Effect.flatMap(
                    checkHook({
                      fileName: resume.fileName,
                      size: resume.size,
                      sha256: resume.expectedSha256,
                      clientAddress: connection.clientAddress,
                      identity: connection.identity,
                      resume: true
                    }),
                    (verdict) =>
                      verdict._tag === "Allowed" ? Effect.void : Effect.zipRight(
                        Effect.zipRight(
                          Metric.increment(Metrics.preUploadHookRefusals),
                          Effect.logInfo("resume refused by the pre-upload hook").pipe(
                            log({ upload: Uploads.logReference(resume.uploadId), reason: verdict.reason })
                          )
                        ),
                        Effect.fail(Uploads.refused("upload_refused", verdict.reason))
                      )
                  )
                const resumed = yield* uploads.resume(resume, connection.identity, admit).pipe(
                  // Held bytes that contradict the extension end the upload here, before it is open on this session.
                  Effect.tapError((error) =>
                    error._tag === "UploadRefused" && error.refusal.code === "content_mismatch"
                      ? emit({
                        type: "upload.failed",
                        reason: "content",
                        uploadId: resume.uploadId,
                        fileName: resume.fileName,
                        size: resume.size,
                        clientAddress: connection.clientAddress,
                        identity: connection.identity
                      })
                      : Effect.void
                  )
                )
                if (resumed._tag === "Completed") {
                  // Asked again (say, its file_received was lost): the same answer, nothing stored twice.
                  const { extension, sha256, storedName } = resumed.completed
                  yield* Ref.update(session, (s) => ({ ...s, state: Upload.UploadState.Completed({ file: resume.file }) }))
                  yield* Metric.increment(Metrics.completionsRepeated)
                  yield* Effect.logInfo("completed upload asked again").pipe(log({ upload: Uploads.logReference(resume.uploadId), storedName }))
                  return yield* connection.send(Messages.fileReceived(storedName, extension, sha256))
                }
                const { state, upload } = resumed
                const held = state._tag === "Receiving" ? state.received : 0
                yield* opened(upload, state, held)
                yield* Metric.increment(Metrics.uploadsResumed)
                yield* Effect.logInfo("upload resumed").pipe(log({ upload: Uploads.logReference(upload.uploadId), offset: held }))
                if (state._tag === "Receiving" && held === state.size) {
                  yield* complete(upload, state.file, state.size, state.expectedSha256)
                }
              }).pipe(Effect.catchAll((error) => fail(error, { uploadId: resume.uploadId }))),
            // Combinators rather than a generator: this runs for every chunk.
            Append: ({ bytes, completed, next }) =>
              Effect.flatMap(Ref.get(session), ({ active, state }) => {
                if (Option.isNone(active)) return Effect.dieMessage("Append without an open upload")
                const upload = active.value
                const size = bytes.length
                const reply = completed && next._tag === "Completed" && state._tag === "Receiving"
                  ? complete(upload, next.file, state.size, state.expectedSha256)
                  : next._tag === "Receiving"
                  ? Effect.zipRight(invitations.invite, connection.send(Messages.chunkReceived(next.received)))
                  : Effect.void
                return uploads.inspect(upload, bytes).pipe(
                  Effect.zipRight(Effect.suspend(() => {
                    upload.hash.update(bytes)
                    // The store takes the bytes (it may free them once written): nothing reads them after this,
                    // and nothing keeps a view of them (the content check copies what it holds on to).
                    return upload.partial.append(bytes)
                  })),
                  Effect.zipRight(Metric.incrementBy(Metrics.bytesReceived, size)),
                  Effect.zipRight(Ref.update(session, (s) => ({ ...s, state: next }))),
                  Effect.zipRight(reply),
                  Effect.catchAll((error) => fail(error, { uploadId: upload.uploadId }))
                )
              }),
            Cancel: ({ next }) =>
              Effect.gen(function*() {
                yield* Metric.increment(Metrics.uploadsFailed("cancelled"))
                yield* discardAs("upload.cancelled", "cancelled")
                yield* Ref.update(session, (s) => ({ ...s, state: next }))
                yield* connection.send(Messages.uploadCancelled)
              })
          })

        const closeOverLimit = (refusal: Refusal.Refusal) =>
          Effect.gen(function*() {
            yield* Metric.increment(Metrics.rateLimitCloses)
            yield* Effect.logWarning("rate limit exceeded; closing").pipe(log({ reason: refusal.message }))
            yield* connection.send(Messages.error(refusal))
            yield* connection.close(CLOSE_POLICY_VIOLATION, Messages.RATE_LIMIT_EXCEEDED)
            return "closed" as const
          })

        /** Runs the transition for `message`; a chunk's time goes to the chunk_seconds histogram. */
        const handle = (message: Messages.ClientMessage | Upload.ChunkBytes): Effect.Effect<void> =>
          Effect.flatMap(Ref.get(session), ({ state }) => {
            // A step runs to the end even on shutdown, so no opened file escapes the session's bookkeeping.
            const step = Effect.uninterruptible(run(Upload.transition(state, message, settings.upload)))
            return message.type === "file_meta" || message.type === "cancel"
              ? step
              : Effect.flatMap(Effect.timed(step), ([elapsed]) => Metric.update(Metrics.chunkSeconds, Duration.toSeconds(elapsed)))
          })

        /**
         * After a defect (a bug) in a frame's handling: the open upload is suspended, as on a dropped
         * connection (every byte it was answered for is in the store, and a resume checks them again), and
         * the session starts over from Idle; the defect is logged, the client is told, and the connection
         * goes on.
         */
        const recover = (defect: unknown): Effect.Effect<Verdict> =>
          Effect.gen(function*() {
            const active = yield* Ref.modify(session, (s) => [s.active, { state: Upload.initial, active: Option.none() }])
            // A defect's text may hold an upload's id (in a path, say), and the id lets its holder resume the upload.
            const uploadId = Option.getOrUndefined(Option.map(active, (upload) => upload.uploadId))
            const logged = (cause: Cause.Cause<unknown>) =>
              log({
                error: Uploads.redact(Cause.pretty(cause), uploadId),
                ...(uploadId === undefined ? {} : { upload: Uploads.logReference(uploadId) })
              })
            yield* Effect.logError("defect while handling a frame; answered internal_error").pipe(logged(Cause.die(defect)))
            if (Option.isSome(active)) {
              yield* uploads.suspend(active.value).pipe(
                Effect.catchAllCause((cause) => Effect.logError("could not suspend the upload after a defect").pipe(logged(cause)))
              )
            }
            yield* connection.send(Messages.internalError)
            return "continue" as const
          }).pipe(Effect.uninterruptible)

        // Combinators rather than a generator: this runs for every frame. A defect ends the frame, not the connection.
        const receive = (frame: Frame): Effect.Effect<Verdict> =>
          Effect.catchAllDefect(
            Effect.zipRight(
              // The frame this connection was invited to send (if any) has come.
              invitations.settle,
              Effect.flatMap(overLimit(connection.clientAddress, frame.bytes.length), (exceeded) => {
                if (Option.isSome(exceeded)) return closeOverLimit(exceeded.value)
                const decoded: Either.Either<Messages.ClientMessage | Upload.ChunkBytes, Refusal.Refusal> = frame.isBinary
                  ? Either.right({ type: "chunk_bytes", bytes: frame.bytes })
                  : Messages.decodeFrame(frame.bytes)
                return Effect.as(
                  Either.isLeft(decoded) ? connection.send(Messages.error(decoded.left)) : handle(decoded.right),
                  "continue" as const
                )
              })
            ),
            recover
          )

        const patience = Effect.map(Ref.get(session), (s) =>
          Option.fromNullable(Option.isSome(s.active) ? settings.timeouts?.stall : settings.timeouts?.idle))

        const timeout = Effect.gen(function*() {
          const active = yield* takeActive
          if (Option.isSome(active)) {
            const seconds = Duration.toSeconds(settings.timeouts?.stall ?? Duration.zero)
            yield* Metric.increment(Metrics.timeoutCloses("stalled"))
            yield* Effect.uninterruptible(uploads.suspend(active.value))
            yield* Ref.update(session, (s) => ({ ...s, state: Upload.initial }))
            yield* Effect.logInfo("upload stalled; suspended it and closing").pipe(log({ upload: Uploads.logReference(active.value.uploadId) }))
            yield* connection.send(Messages.error(Refusal.make("upload_stalled", uploadStalled(seconds))))
            yield* connection.close(CLOSE_STALLED, "Upload stalled")
          } else {
            yield* Metric.increment(Metrics.timeoutCloses("idle"))
            yield* Effect.logDebug("connection idle; closing").pipe(log())
            yield* connection.send(Messages.error(Refusal.make("idle_timeout", idleTimeout(Duration.toSeconds(settings.timeouts?.idle ?? Duration.zero)))))
            yield* connection.close(CLOSE_IDLE, "Idle timeout")
          }
          return "closed" as const
        })

        return { receive, patience, timeout } satisfies OpenSession
      })

    return UploadSession.of({ open })
  })

export const layer = (
  settings: SessionSettings
): Layer.Layer<UploadSession, never, FileStore | RateLimiter | UploadRegistry | ConcurrencyLimiter> =>
  Layer.effect(UploadSession, make(settings))
