/**
 * OutageLog: what a caller of a dependency that can go away (Redis, say)
 * logs about it: one line when an outage starts and one when it ends, however
 * many calls fail or succeed in between, so that a long outage neither floods
 * the log nor goes unnoticed. The caller says which calls failed (`down`) and
 * which answered (`up`); what it does meanwhile (fall back, let frames
 * through) is its own business, and so are its metrics.
 */
import { Effect, Ref } from "effect"

export interface OutageLog {
  /** A call failed with `error`: logged at error level (with the error) when this starts an outage, else nothing. */
  readonly down: (error: { readonly message: string }) => Effect.Effect<void>
  /** A call answered: logged at warning level when this ends an outage, else nothing (one Ref read). */
  readonly up: Effect.Effect<void>
}

/** What to log when the outage starts (`down`) and when it ends (`up`), each naming the dependency and what happens meanwhile. */
export interface OutageMessages {
  readonly down: string
  readonly up: string
}

export const make = (messages: OutageMessages): Effect.Effect<OutageLog> =>
  Effect.map(Ref.make(false), (isDown) => {
    // Each line is claimed by the fiber that flips the flag, so concurrent calls log it once.
    const started = Effect.map(Ref.getAndSet(isDown, true), (wasDown) => !wasDown)
    const ended = Ref.getAndSet(isDown, false)
    const logUp = Effect.asVoid(Effect.whenEffect(Effect.logWarning(messages.up), ended))
    return {
      down: (error) =>
        Effect.asVoid(Effect.whenEffect(Effect.logError(messages.down).pipe(Effect.annotateLogs({ error: error.message })), started)),
      // Runs after every answered call (every frame, for the rate limiter): a read, and a write only while down.
      up: Effect.flatMap(Ref.get(isDown), (wasDown) => (wasDown ? logUp : Effect.void))
    }
  })
