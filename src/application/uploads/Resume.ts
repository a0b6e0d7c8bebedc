/**
 * Reopening an upload for a resume: the registry's record is checked against
 * the request, the writer claim is taken, the store's partial file reopened
 * and its held bytes replayed into a fresh digest and content check. An
 * upload that completed before is answered with what it was stored as.
 */
import { Effect, Either, Option } from "effect"
import * as Refusals from "../../domain/Refusals.js"
import * as Upload from "../../domain/Upload.js"
import type * as ContentCheck from "./ContentCheck.js"
import type { RunningDigest } from "../ports/Digests.js"
import type { FileStore } from "../ports/FileStore.js"
import type { UploadRecord, UploadRegistry } from "../ports/UploadRegistry.js"
import { refuse, type UploadFailure, type UploadRefused } from "./UploadFailure.js"
import { logReference, redact } from "./UploadIds.js"
import type { ActiveUpload, Resumed } from "./Uploads.js"

/** What a resume needs of the uploads service it belongs to. */
export interface ResumeDependencies {
  readonly store: FileStore["Type"]
  readonly registry: UploadRegistry["Type"]
  /** A new digest for an upload of `size` bytes expecting `expectedSha256` (see Uploads). */
  readonly digestFor: (size: number, expectedSha256: string | undefined) => Effect.Effect<RunningDigest>
  readonly contentCheck: (extension: string) => ContentCheck.ContentCheck
  readonly inspect: (upload: ActiveUpload, bytes: Uint8Array) => Effect.Effect<void, UploadRefused>
  readonly ensureRoom: (bytes: number) => Effect.Effect<void, UploadRefused>
  readonly discard: (upload: ActiveUpload) => Effect.Effect<void>
}

/**
 * `resume(step, identity, admit)` reopens `step.uploadId` for `identity` and
 * checks it against the resume request: the state to continue in, or what the
 * upload was stored as if it completed before. An upload someone else started
 * is unknown to `identity`. `admit` decides on an upload that would go on
 * writing (the pre-upload hook), before anything is claimed or opened.
 */
export const make = ({ contentCheck, digestFor, discard, ensureRoom, inspect, registry, store }: ResumeDependencies) =>
(
  step: Upload.Step & { readonly _tag: "Resume" },
  identity?: string,
  admit: (record: UploadRecord) => Effect.Effect<void, UploadRefused> = () => Effect.void
): Effect.Effect<Resumed, UploadFailure> =>
  Effect.gen(function*() {
    const unknown = refuse(Refusals.unknownUpload())
    const record = yield* registry.get(step.uploadId).pipe(
      // An unreadable record can never be resumed: it is forgotten, like an upload that expired.
      Effect.catchIf(
        (error) => error.reason === "Corrupt",
        (error) =>
          Effect.zipRight(
            Effect.logWarning("forgetting an unreadable upload record").pipe(
              Effect.annotateLogs({ upload: logReference(step.uploadId), error: redact(error.message, step.uploadId) })
            ),
            Effect.as(Effect.ignoreLogged(registry.remove(step.uploadId)), Option.none<UploadRecord>())
          )
      )
    )
    // The same answer as for an id never handed out: nothing tells another identity the upload exists.
    if (Option.isNone(record) || record.value.identity !== identity) return yield* unknown
    const completed = record.value.completed
    if (completed !== undefined) {
      const verdict = Upload.resumedCompleted(step, record.value, completed.sha256)
      if (Either.isLeft(verdict)) return yield* refuse(verdict.left)
      return { _tag: "Completed", completed } as const
    }
    yield* admit(record.value)
    const claimed = yield* registry.claim(step.uploadId)
    if (Option.isNone(claimed)) return yield* refuse(Refusals.busy())
    const release = claimed.value
    const reopened = yield* store.resume(step.uploadId, record.value.size).pipe(
      Effect.tapError(() => release),
      // Open in this process after all (its claim lapsed while it wrote): busy, not gone.
      Effect.catchIf((error) => error.reason === "Busy", () => refuse(Refusals.busy()))
    )
    if (Option.isNone(reopened)) {
      yield* Effect.ignoreLogged(registry.remove(step.uploadId))
      yield* release
      return yield* unknown
    }
    const { held, partial, replay } = reopened.value
    const giveBack = Effect.zipRight(partial.suspend, release)
    const state = Upload.resumed(step, record.value, held)
    if (Either.isLeft(state)) {
      return yield* Effect.zipRight(giveBack, refuse(state.left))
    }
    // The digest the resumed upload will be checked against, if any: the one asked for now, or at the start.
    const hash = yield* digestFor(record.value.size, step.expectedSha256 ?? record.value.expectedSha256)
    const content = contentCheck(step.file.extension)
    yield* Effect.tapError(
      replay((bytes) => {
        hash.update(bytes)
        content.feed(bytes)
        return hash.caughtUp
      }),
      () => Effect.zipRight(hash.abandon, giveBack)
    )
    const { createdAt, fileName, size } = record.value
    const upload: ActiveUpload = {
      uploadId: step.uploadId,
      partial,
      hash,
      content,
      release,
      record: record.value,
      fileName,
      size,
      startedAt: createdAt
    }
    // Bytes held from before can still contradict the extension (say, the check was off then): they are of no use.
    yield* Effect.tapError(inspect(upload, new Uint8Array(0)), () => discard(upload))
    yield* Effect.tapError(ensureRoom(record.value.size - held), () => Effect.zipRight(hash.abandon, giveBack))
    return { _tag: "Opened", upload, state: state.right } as const
  })
