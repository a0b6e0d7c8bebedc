/**
 * Pacing: a process-wide cap on the chunks that clients have been invited
 * to send and have not sent yet.
 *
 * A client that waits for replies (stop-and-wait, as the original protocol
 * and most clients do) sends its next chunk only after `meta_received` or
 * `chunk_received`. So each such reply first takes an invitation, and the
 * connection's next frame (or its end) gives it back. `ws` buffers every
 * frame whole before handing it over, so without a cap, 1,000 connections
 * each sending one 256 KiB chunk hold 256 MB at once; with it, the frames in
 * flight are bounded by the cap, whatever the number of connections.
 * Replies beyond the cap wait their turn; throughput is unchanged, since the
 * server could not handle more chunks at once anyway.
 *
 * An invitation is a lease: one not used within `leaseMillis` goes back
 * anyway, so clients that stall (or never meant to send) cannot hold them all
 * and starve the others. The cap is therefore soft for clients slower than
 * the lease. Clients that send without waiting for replies are not paced;
 * each connection's inbox bounds what they can queue.
 */
import { Context, Duration, Effect, Layer, Queue, Schedule } from "effect"
import type { Scope } from "effect"
import * as Finalizers from "../infrastructure/Finalizers.js"

export interface PacingSettings {
  /** Invitations outstanding at once, across all connections. */
  readonly invitations: number
  /** How long an invitation waits to be used before it goes back. */
  readonly lease: Duration.Duration
}

/** One connection's side of the pacing: it holds at most one invitation. */
export interface Invitations {
  /** Waits for an invitation, then holds it; call before a reply that asks for the next chunk. */
  readonly invite: Effect.Effect<void>
  /** Gives back the invitation this connection holds, if any; call when a frame arrives. */
  readonly settle: Effect.Effect<void>
}

export class Pacing extends Context.Tag("file-receiver/Pacing")<Pacing, {
  /** Invitations for one connection; closing the scope gives back what it holds. */
  readonly connection: Effect.Effect<Invitations, never, Scope.Scope>
}>() {}

/** No cap: every invitation is granted at once (the default when pacing is off, and in tests). */
export const unpaced: Invitations = { invite: Effect.void, settle: Effect.void }

export const make = (settings: PacingSettings) =>
  Effect.gen(function*() {
    // The invitations, as tokens in a queue: a freed one goes straight to the longest waiter. (Effect's
    // Semaphore wakes every waiter on each release; with a thousand connections waiting, that cost
    // half the throughput and hundreds of megabytes of garbage.)
    const tokens = yield* Queue.bounded<true>(settings.invitations)
    yield* Queue.offerAll(tokens, Array.from({ length: settings.invitations }, () => true as const))
    const leaseMillis = Duration.toMillis(settings.lease)
    // When each holder took its invitation (epoch ms), by holder number. Every frame reads and changes it,
    // so it is a plain Map, changed only inside single synchronous steps (each change is atomic).
    const held = new Map<number, number>()
    let holders = 0

    /** Removes `holder`'s invitation if it still has one and gives it back, in one step (no interruption between). */
    const giveBack = (holder: number) =>
      Effect.sync(() => {
        if (held.delete(holder)) tokens.unsafeOffer(true)
      })

    // Leases that ran out go back, a few times per lease.
    const sweep = Effect.clockWith((clock) =>
      Effect.suspend(() => {
        const now = clock.unsafeCurrentTimeMillis()
        const expired = [...held].filter(([, since]) => now - since >= leaseMillis).map(([holder]) => holder)
        return Effect.forEach(expired, giveBack, { discard: true })
      })
    )
    yield* Effect.forkScoped(Effect.repeat(sweep, Schedule.spaced(Duration.millis(Math.max(10, leaseMillis / 4)))))

    const connection = Effect.gen(function*() {
      const holder = ++holders
      yield* Finalizers.addFinalizer(giveBack(holder))
      const take = Effect.zipRight(
        // The wait can be interrupted even inside a session's uninterruptible step (shutdown must not wait on it).
        Effect.interruptible(Queue.take(tokens)),
        Effect.clockWith((clock) => Effect.sync(() => void held.set(holder, clock.unsafeCurrentTimeMillis())))
      )
      return {
        // A holder asks again only after its next frame settled the last one; a repeat ask keeps the one it has.
        invite: Effect.uninterruptible(Effect.suspend(() => (held.has(holder) ? Effect.void : take))),
        settle: giveBack(holder)
      } satisfies Invitations
    })

    return Pacing.of({ connection })
  })

export const layer = (settings: PacingSettings): Layer.Layer<Pacing> => Layer.scoped(Pacing, make(settings))
