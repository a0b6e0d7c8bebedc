/**
 * Where one session is: the protocol state (domain/Upload) and the upload it
 * holds open, if any. Only the session's own fiber changes it, one frame at
 * a time; an upload taken out of it is the taker's to end.
 */
import { Effect, Option, Ref } from "effect"
import * as Upload from "../../domain/Upload.js"
import type { ActiveUpload } from "../uploads/Uploads.js"

export interface Session {
  readonly state: Upload.UploadState
  readonly active: Option.Option<ActiveUpload>
}

export interface SessionState {
  readonly get: Effect.Effect<Session>
  /** Moves the protocol to `next`; the open upload stays. */
  readonly moveTo: (next: Upload.UploadState) => Effect.Effect<void>
  /** Holds `upload` open, in `state`. */
  readonly open: (upload: ActiveUpload, state: Upload.UploadState) => Effect.Effect<void>
  /** Takes the open upload out of the session (it is then the caller's to end). */
  readonly takeOpen: Effect.Effect<Option.Option<ActiveUpload>>
  /** Takes the open upload, if any, and ends it with `end`. */
  readonly endOpen: (end: (upload: ActiveUpload) => Effect.Effect<void>) => Effect.Effect<void>
  /** Starts over from Idle with nothing open: the upload that was open, if any (the caller's to end). */
  readonly reset: Effect.Effect<Option.Option<ActiveUpload>>
}

export const make: Effect.Effect<SessionState> = Effect.map(
  Ref.make<Session>({ state: Upload.initial, active: Option.none() }),
  (session) => {
    const takeOpen = Ref.modify(session, (s): [Option.Option<ActiveUpload>, Session] => [s.active, { ...s, active: Option.none() }])
    return {
      get: Ref.get(session),
      moveTo: (next) => Ref.update(session, (s) => ({ ...s, state: next })),
      open: (upload, state) => Ref.set(session, { state, active: Option.some(upload) }),
      takeOpen,
      endOpen: (end) => Effect.flatMap(takeOpen, Option.match({ onNone: () => Effect.void, onSome: end })),
      reset: Ref.modify(session, (s): [Option.Option<ActiveUpload>, Session] => [s.active, { state: Upload.initial, active: Option.none() }])
    }
  }
)
