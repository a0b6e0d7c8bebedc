/**
 * The loop that drives one connection: it takes the connection's frames in
 * order and hands them to its session, waiting for each at most as long as
 * the session's patience (the idle timeout, or the stall timeout while an
 * upload is open). When that runs out, the session ends the connection.
 */
import { Effect, Option } from "effect"
import type { Frame } from "./Connection.js"
import type { OpenSession } from "./UploadSession.js"

/**
 * Serves `session` with the frames `next` yields until the peer is gone
 * (`next` yields None) or the session closes the connection.
 */
export const serve = (session: OpenSession, next: Effect.Effect<Option.Option<Frame>>): Effect.Effect<void> =>
  Effect.gen(function*() {
    for (;;) {
      const patience = yield* session.patience
      const frame = Option.isNone(patience)
        ? Option.some(yield* next)
        : yield* Effect.timeoutOption(next, patience.value)
      if (Option.isNone(frame)) {
        yield* session.timeout
        return
      }
      if (Option.isNone(frame.value)) return
      if ((yield* session.receive(frame.value.value)) === "closed") return
    }
  })
