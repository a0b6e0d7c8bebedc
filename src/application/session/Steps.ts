/**
 * The step interpreter: carries out the protocol's `Step`s (domain/Upload)
 * against the uploads service and answers the client, one function per step
 * kind. Failures go to Failures, ends of uploads to UploadEnds.
 */
import { Effect, LogLevel, Option } from "effect"
import type { SafeFileName } from "../../domain/FileName.js"
import * as Messages from "../../domain/Messages.js"
import * as Upload from "../../domain/Upload.js"
import * as MetricUpdates from "../infrastructure/MetricUpdates.js"
import * as Metrics from "../infrastructure/Metrics.js"
import { outcomeOf } from "../uploads/UploadFailure.js"
import { logReference } from "../uploads/UploadIds.js"
import type { ActiveUpload } from "../uploads/Uploads.js"
import type * as Admission from "./Admission.js"
import type { Failures } from "./Failures.js"
import type { SessionContext } from "./SessionContext.js"
import * as UploadEnds from "./UploadEnds.js"

type StepOf<Tag extends Upload.Step["_tag"]> = Extract<Upload.Step, { readonly _tag: Tag }>

export interface StepDependencies {
  readonly ends: UploadEnds.UploadEnds
  readonly failures: Failures
  readonly admit: ReturnType<typeof Admission.make>
  /** The meta_received reply for an upload opened at `offset`. */
  readonly metaReceived: (uploadId: string, offset: number) => Messages.Reply
}

/** `run(step)` carries out `step`. */
export const make = (context: SessionContext, { admit, ends, failures, metaReceived }: StepDependencies) => {
  const { connection, invitations, log, state, uploads } = context
  const { fail } = failures

  const opened = (upload: ActiveUpload, next: Upload.UploadState, offset: number) =>
    Effect.zipRight(
      state.open(upload, next),
      // meta_received asks for the first chunk: it waits for an invitation (see Pacing).
      Effect.zipRight(invitations.invite, connection.send(metaReceived(upload.uploadId, offset)))
    )

  const complete = (upload: ActiveUpload, file: SafeFileName, size: number, expectedSha256: string | undefined) =>
    Effect.gen(function*() {
      yield* state.takeOpen
      const { sha256, storedName } = yield* uploads.finish(upload, file, size, expectedSha256).pipe(
        Effect.tapError((error) =>
          // Taken over, or suspended: the upload lives on, with the other connection or for a resume.
          outcomeOf(error) === "discarded" ? ends.report(upload, UploadEnds.failed(UploadEnds.reasonOf(error))) : Effect.void
        )
      )
      yield* ends.report(upload, { type: "upload.completed", storedName, extension: file.extension, sha256 })
      yield* connection.send(Messages.fileReceived(storedName, file.extension, sha256))
    })

  // A refusal that discards the open upload: a chunk past its size ends it, anything else replaces it.
  const refuse = ({ discard, next, refusal }: StepOf<"Refuse">) =>
    Effect.zipRight(
      discard ? ends.discardOpen(refusal.code === "exceeds_size" ? UploadEnds.failed("overflow") : UploadEnds.replaced) : Effect.void,
      Effect.zipRight(state.moveTo(next), connection.send(Messages.error(refusal)))
    )

  const start = ({ completed, expectedSha256, file, fileName, fileType, next, replaces, size }: StepOf<"Start">) =>
    Effect.gen(function*() {
      if (replaces) yield* ends.discardOpen(UploadEnds.replaced)
      yield* admit({ fileName, size, sha256: expectedSha256 }, { file: file.name, size })
      const upload = yield* uploads.start(fileName, size, expectedSha256, file.extension, connection.identity, fileType)
      yield* opened(upload, next, 0)
      yield* MetricUpdates.add(Metrics.uploadsStarted, 1)
      yield* log(LogLevel.Info, "upload started", { upload: logReference(upload.uploadId), file: file.name, size })
      if (completed) yield* complete(upload, file, size, expectedSha256)
    }).pipe(Effect.catchAll((error) => fail(error, { starting: true })))

  const resume = (step: StepOf<"Resume">) =>
    Effect.gen(function*() {
      const { expectedSha256, fileName, size, uploadId } = step
      // Resuming the upload this connection has open (say, after a lost reply) continues it.
      if (step.replaces) {
        yield* state.endOpen((open) => open.uploadId === uploadId ? uploads.suspend(open) : ends.discard(open, UploadEnds.replaced))
      }
      // Asked before anything is claimed or read back.
      const admitted = () => admit({ fileName, size, sha256: expectedSha256, resume: true }, { upload: logReference(uploadId) })
      const resumed = yield* uploads.resume(step, connection.identity, admitted).pipe(
        // Held bytes that contradict the extension end the upload here, before it is open on this session.
        Effect.tapError((error) =>
          error._tag === "UploadRefused" && error.refusal.code === "content_mismatch"
            ? ends.report({ uploadId, fileName, size }, UploadEnds.failed("content"))
            : Effect.void
        )
      )
      if (resumed._tag === "Completed") {
        // Asked again (say, its file_received was lost): the same answer, nothing stored twice.
        const { extension, sha256, storedName } = resumed.completed
        yield* state.moveTo(Upload.UploadState.Completed({ file: step.file }))
        yield* MetricUpdates.add(Metrics.completionsRepeated, 1)
        yield* log(LogLevel.Info, "completed upload asked again", { upload: logReference(uploadId), storedName })
        return yield* connection.send(Messages.fileReceived(storedName, extension, sha256))
      }
      const { upload } = resumed
      const held = resumed.state._tag === "Receiving" ? resumed.state.received : 0
      yield* opened(upload, resumed.state, held)
      yield* MetricUpdates.add(Metrics.uploadsResumed, 1)
      yield* log(LogLevel.Info, "upload resumed", { upload: logReference(uploadId), offset: held })
      if (resumed.state._tag === "Receiving" && held === resumed.state.size) {
        yield* complete(upload, resumed.state.file, resumed.state.size, resumed.state.expectedSha256)
      }
    }).pipe(Effect.catchAll((error) => fail(error, { uploadId: step.uploadId })))

  // Combinators rather than a generator: this runs for every chunk (see docs/performance.md).
  const append = ({ bytes, completed, next }: StepOf<"Append">) =>
    Effect.flatMap(state.get, ({ active, state: current }) => {
      if (Option.isNone(active)) return Effect.dieMessage("Append without an open upload")
      const upload = active.value
      const reply = completed && next._tag === "Completed" && current._tag === "Receiving"
        ? complete(upload, next.file, current.size, current.expectedSha256)
        : next._tag === "Receiving"
        ? Effect.zipRight(invitations.invite, connection.send(Messages.chunkReceived(next.received)))
        : Effect.void
      // Hashed while the store writes them (`alongside`), before it frees them: `append` takes the bytes (see FileStore).
      return uploads.inspect(upload, bytes).pipe(
        Effect.zipRight(upload.partial.append(bytes, () => upload.hash.update(bytes))),
        // A digest on another thread holds a copy of the bytes until it has hashed them: memory stays bounded.
        Effect.zipRight(upload.hash.caughtUp),
        Effect.zipRight(MetricUpdates.add(Metrics.bytesReceived, bytes.length)),
        Effect.zipRight(state.moveTo(next)),
        Effect.zipRight(reply),
        Effect.catchAll((error) => fail(error, { uploadId: upload.uploadId }))
      )
    })

  const cancel = ({ next }: StepOf<"Cancel">) =>
    Effect.zipRight(ends.discardOpen(UploadEnds.cancelled), Effect.zipRight(state.moveTo(next), connection.send(Messages.uploadCancelled)))

  const cases = { Refuse: refuse, Start: start, Resume: resume, Append: append, Cancel: cancel }
  return (step: Upload.Step): Effect.Effect<void> => Upload.Step.$match(step, cases)
}
