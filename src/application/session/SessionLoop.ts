/**
 * The loop that drives one connection: it takes what the transport received,
 * in order, and hands each frame to the connection's session, waiting for
 * each at most as long as the session's patience (the idle timeout, or the
 * stall timeout while an upload is open). When that runs out (Quiet), the
 * session ends the connection; when the peer is gone, the loop ends.
 */
import { type Data, Effect, LogLevel, Option } from "effect"
import { type Frame, gone, type Next, quiet, type Received, type Verdict } from "./Connection.js"
import type { OpenSession } from "./UploadSession.js"

/** A `Next` from an effect that waits for ever (None: the peer is gone), timed by effect's Clock (tests and simple transports). */
export const within = (next: Effect.Effect<Option.Option<Frame>>): Next => {
  const received = Effect.map(next, (frame): Received => (Option.isSome(frame) ? frame.value : gone(undefined, undefined)))
  return (patience) =>
    Option.isNone(patience)
      ? received
      : Effect.map(Effect.timeoutOption(received, patience.value), Option.getOrElse(() => quiet))
}

const disconnected = (peer: Data.TaggedEnum.Value<Received, "Gone">): Effect.Effect<void> =>
  // Only at debug level: the annotation alone would cost every connection two copies of its FiberRefs.
  Effect.asVoid(Effect.whenLogLevel(
    Effect.logDebug("client disconnected").pipe(
      Effect.annotateLogs({
        ...(peer.code === undefined ? {} : { code: peer.code }),
        ...(peer.error === undefined ? {} : { error: peer.error })
      })
    ),
    LogLevel.Debug
  ))

/**
 * Serves `session` with what `next` receives until the peer is gone or the
 * session closes the connection (after a frame, or when its patience ran out).
 */
export const serve = (session: OpenSession, next: Next): Effect.Effect<void> => {
  // Combinators rather than a generator: one turn per frame, and no closure made per frame. Each turn ends
  // in the next one, which the run loop starts after the last continuation is gone, so the stack stays flat.
  const afterFrame = (verdict: Verdict): Effect.Effect<void> => (verdict === "closed" ? Effect.void : turn)
  const handle = (received: Received): Effect.Effect<void> => {
    switch (received._tag) {
      case "Frame":
        return Effect.flatMap(session.receive(received), afterFrame)
      case "Quiet":
        return Effect.asVoid(session.timeout)
      case "Gone":
        return disconnected(received)
    }
  }
  const turn: Effect.Effect<void> = Effect.flatMap(Effect.flatMap(session.patience, next), handle)
  return turn
}
