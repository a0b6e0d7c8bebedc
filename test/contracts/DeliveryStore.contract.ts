/**
 * The webhook DeliveryStore contract, run against every store (memory,
 * journal file, Redis): what is added is claimed once due, a claim leases it,
 * retry reschedules it with its attempt count, acknowledge forgets it.
 * Ids are fresh per test and times are far in the future of any other
 * test's, so stores shared between tests (Redis) do not interfere.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Layer } from "effect"
import { randomUUID } from "node:crypto"
import { type Delivery, DeliveryStore } from "../../src/application/ports/DeliveryStore.js"

export const deliveryStoreContract = (
  adapter: string,
  layer: Layer.Layer<DeliveryStore, unknown>,
  options: { readonly skip?: boolean } = {}
) =>
  describe.skipIf(options.skip === true)(`DeliveryStore contract: ${adapter}`, () => {
    const delivery = (dueAt: number): Delivery => ({ id: randomUUID(), type: "upload.completed", body: `{"n":${dueAt}}`, attempts: 0, dueAt })
    const mine = (ids: ReadonlyArray<string>) => (found: ReadonlyArray<Delivery>) => found.filter((d) => ids.includes(d.id))

    it.effect("claims only what is due, oldest first, and each once while leased", () =>
      Effect.gen(function*() {
        const store = yield* DeliveryStore
        const [early, late] = [delivery(1_000), delivery(5_000)]
        yield* store.add(late)
        yield* store.add(early)
        const ids = [early.id, late.id]
        expect(mine(ids)(yield* store.claimDue(999, 100, 100))).toEqual([])
        expect(mine(ids)(yield* store.claimDue(5_000, 100, 100))).toEqual([early, late])
        expect(mine(ids)(yield* store.claimDue(5_099, 100, 100))).toEqual([])
        expect(mine(ids)(yield* store.claimDue(5_100, 100, 100)).map((d) => d.id).sort()).toEqual([...ids].sort())
        yield* Effect.forEach(ids, store.acknowledge)
      }).pipe(Effect.provide(layer), Effect.orDie))

    it.effect("adding the same id twice keeps the first", () =>
      Effect.gen(function*() {
        const store = yield* DeliveryStore
        const first = delivery(10_000)
        yield* store.add(first)
        yield* store.add({ ...first, body: "{\"other\":true}" })
        expect(mine([first.id])(yield* store.claimDue(10_000, 100, 100))).toEqual([first])
        yield* store.acknowledge(first.id)
      }).pipe(Effect.provide(layer), Effect.orDie))

    it.effect("retry ends the lease and reschedules with the attempt count; acknowledge forgets", () =>
      Effect.gen(function*() {
        const store = yield* DeliveryStore
        const d = delivery(20_000)
        yield* store.add(d)
        const before = yield* store.pending
        yield* store.claimDue(20_000, 60_000, 100)
        yield* store.retry(d.id, 3, 21_000)
        expect(mine([d.id])(yield* store.claimDue(20_999, 100, 100))).toEqual([])
        expect(mine([d.id])(yield* store.claimDue(21_000, 100, 100))).toEqual([{ ...d, attempts: 3, dueAt: 21_000 }])
        yield* store.acknowledge(d.id)
        yield* store.acknowledge(d.id)
        expect(yield* store.pending).toBe(before - 1)
        expect(mine([d.id])(yield* store.claimDue(99_000, 100, 100))).toEqual([])
        yield* store.retry(d.id, 4, 0)
        expect(mine([d.id])(yield* store.claimDue(99_000, 100, 100))).toEqual([])
      }).pipe(Effect.provide(layer), Effect.orDie))
  })
