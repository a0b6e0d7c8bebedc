/**
 * The loop that drives one connection: it takes the connection's frames in
 * order and hands them to its session, waiting for each at most as long as
 * the session's patience (the idle timeout, or the stall timeout while an
 * upload is open). When that runs out, the session ends the connection.
 */
import { type Duration, Effect, Option } from "effect"
import type { Frame } from "./Connection.js"
import type { OpenSession } from "./UploadSession.js"

/**
 * Waits for the next frame at most `within` (for ever when None): Some(Some(frame)),
 * Some(None) when the peer is gone, or None when nothing came in time.
 */
export type Next = (within: Option.Option<Duration.Duration>) => Effect.Effect<Option.Option<Option.Option<Frame>>>

/** A `Next` from an effect that waits for ever, timed by effect's Clock (tests and simple transports). */
export const within = (next: Effect.Effect<Option.Option<Frame>>): Next => (patience) =>
  Option.isNone(patience) ? Effect.map(next, Option.some) : Effect.timeoutOption(next, patience.value)

/**
 * Serves `session` with the frames `next` yields until the peer is gone
 * or the session closes the connection.
 */
export const serve = (session: OpenSession, next: Next): Effect.Effect<void> => {
  // Combinators rather than a generator: one turn per frame. Each turn ends in the next one, which the
  // run loop starts after the last continuation is gone, so the loop does not grow the stack.
  const turn: Effect.Effect<void> = Effect.flatMap(Effect.flatMap(session.patience, next), (frame) =>
    Option.isNone(frame)
      ? Effect.asVoid(session.timeout)
      : Option.isNone(frame.value)
      ? Effect.void
      : Effect.flatMap(session.receive(frame.value.value), (verdict) => (verdict === "closed" ? Effect.void : turn)))
  return turn
}
