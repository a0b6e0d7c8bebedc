/**
 * The DeliveryStore claim rule on a map held in this process, shared by the
 * in-memory store and the journal file (which keeps its leases in memory).
 */
import type { Delivery } from "../../application/ports/DeliveryStore.js"

/** What a store holds per delivery: the delivery and its lease (epoch ms; 0 when not leased). */
export interface Held {
  readonly delivery: Delivery
  readonly leasedUntil: number
}

/**
 * Leases to the caller, until `now + leaseMillis`, up to `limit` deliveries
 * of `held` that are due at `now` and not leased, oldest due first; updates
 * `held` in place and returns them.
 */
export const claimFrom = (held: Map<string, Held>, now: number, leaseMillis: number, limit: number): ReadonlyArray<Delivery> => {
  const due = [...held.values()]
    .filter(({ delivery, leasedUntil }) => delivery.dueAt <= now && leasedUntil <= now)
    .sort((a, b) => a.delivery.dueAt - b.delivery.dueAt)
    .slice(0, limit)
  for (const { delivery } of due) held.set(delivery.id, { delivery, leasedUntil: now + leaseMillis })
  return due.map(({ delivery }) => delivery)
}
