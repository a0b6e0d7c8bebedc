/**
 * Pacing on TestClock: invitations are capped across connections, a frame
 * gives its connection's invitation back, a connection holds at most one,
 * an unused invitation goes back when its lease runs out, and a connection
 * that ends gives back what it held.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Scope, TestClock } from "effect"
import * as Pacing from "../../../src/application/limits/Pacing.js"

const settings = { invitations: 2, lease: Duration.seconds(2) }

/** Lets forked fibers run up to their next wait. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

describe("Pacing", () => {
  it.scoped("caps invitations across connections; a frame gives one back to the next in line", () =>
    Effect.gen(function*() {
      const pacing = yield* Pacing.make(settings)
      const [a, b, c] = yield* Effect.all([pacing.connection, pacing.connection, pacing.connection])
      yield* a.invite
      yield* b.invite
      const waiting = yield* Effect.fork(c.invite)
      yield* settle
      expect(waiting.unsafePoll()).toBeNull()
      yield* a.settle
      yield* Fiber.join(waiting)
    }))

  it.scoped("waiting connections are invited first come, first served", () =>
    Effect.gen(function*() {
      const pacing = yield* Pacing.make({ ...settings, invitations: 1 })
      const holder = yield* pacing.connection
      const waiters = yield* Effect.all(Array.from({ length: 5 }, () => pacing.connection))
      yield* holder.invite
      const order: Array<number> = []
      const fibers = yield* Effect.forEach(waiters, (waiter, i) =>
        Effect.fork(Effect.zipRight(waiter.invite, Effect.sync(() => order.push(i)))).pipe(Effect.zipLeft(settle)))
      yield* holder.settle
      for (const waiter of waiters) {
        yield* settle
        yield* waiter.settle
      }
      yield* Effect.forEach(fibers, Fiber.join)
      expect(order).toEqual([0, 1, 2, 3, 4])
    }))

  it.scoped("a connection holds at most one invitation: asking again keeps the one it has", () =>
    Effect.gen(function*() {
      const pacing = yield* Pacing.make({ ...settings, invitations: 1 })
      const [a, b] = yield* Effect.all([pacing.connection, pacing.connection])
      yield* a.invite
      yield* a.invite
      yield* a.settle
      yield* b.invite
    }))

  it.scoped("an invitation not used within its lease goes back, so stalled clients cannot hold them all", () =>
    Effect.gen(function*() {
      const pacing = yield* Pacing.make({ ...settings, invitations: 1 })
      const [stalled, other] = yield* Effect.all([pacing.connection, pacing.connection])
      yield* stalled.invite
      const waiting = yield* Effect.fork(other.invite)
      yield* TestClock.adjust(Duration.millis(1500))
      yield* settle
      expect(waiting.unsafePoll()).toBeNull()
      yield* TestClock.adjust(Duration.seconds(1))
      yield* Fiber.join(waiting)
      // The stalled connection's late frame gives back nothing it no longer holds.
      yield* stalled.settle
      const third = yield* pacing.connection
      const blocked = yield* Effect.fork(third.invite)
      yield* settle
      expect(blocked.unsafePoll()).toBeNull()
      yield* Fiber.interrupt(blocked)
    }))

  it.scoped("a connection that ends gives back its invitation", () =>
    Effect.gen(function*() {
      const pacing = yield* Pacing.make({ ...settings, invitations: 1 })
      const scope = yield* Scope.make()
      const leaving = yield* Scope.extend(pacing.connection, scope)
      yield* leaving.invite
      const other = yield* pacing.connection
      const waiting = yield* Effect.fork(other.invite)
      yield* settle
      expect(waiting.unsafePoll()).toBeNull()
      yield* Scope.close(scope, Exit.void)
      yield* Fiber.join(waiting)
    }))

  it.scoped("a wait for an invitation can be interrupted, and takes none then", () =>
    Effect.gen(function*() {
      const pacing = yield* Pacing.make({ ...settings, invitations: 1 })
      const [a, b, c] = yield* Effect.all([pacing.connection, pacing.connection, pacing.connection])
      yield* a.invite
      const waiting = yield* Effect.fork(Effect.uninterruptible(b.invite))
      yield* settle
      yield* Fiber.interrupt(waiting)
      yield* a.settle
      yield* c.invite
    }))
})
