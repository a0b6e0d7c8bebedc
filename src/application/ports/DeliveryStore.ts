/**
 * Where webhook deliveries wait until a receiver acknowledges them, so that
 * they survive a restart: Redis (shared by instances) or a journal file next
 * to the uploads (one instance per directory). A claim leases a delivery, so
 * two workers (or instances) never send the same one at the same time; a
 * lease that is never settled (the worker died) lapses and the delivery is
 * sent again. Delivery is therefore at least once.
 */
import { Context, Data, Effect, Layer, Ref } from "effect"
import type { Effect as E } from "effect"

export class DeliveryStoreError extends Data.TaggedError("DeliveryStoreError")<{
  readonly reason: "Unavailable" | "Corrupt"
  readonly cause: unknown
}> {
  override get message(): string {
    return `Webhook delivery store ${this.reason === "Corrupt" ? "holds an unreadable entry" : "unavailable"}: ${String(this.cause)}`
  }
}

/** One event waiting to be delivered. */
export interface Delivery {
  /** The event id (unique). */
  readonly id: string
  /** The event type, for the X-File-Receiver-Event header and logs. */
  readonly type: string
  /** The request body: the event as JSON. */
  readonly body: string
  /** Attempts made so far. */
  readonly attempts: number
  /** When to try next (epoch ms). */
  readonly dueAt: number
}

export class DeliveryStore extends Context.Tag("file-receiver/DeliveryStore")<DeliveryStore, {
  /** Keeps `delivery` until it is acknowledged. Idempotent per id. */
  readonly add: (delivery: Delivery) => E.Effect<void, DeliveryStoreError>
  /**
   * Up to `limit` deliveries due at `now` that nobody holds, each leased to
   * the caller until `now + leaseMillis`: no other claim returns it before.
   */
  readonly claimDue: (now: number, leaseMillis: number, limit: number) => E.Effect<ReadonlyArray<Delivery>, DeliveryStoreError>
  /** Forgets `id` (delivered, or given up). Idempotent. */
  readonly acknowledge: (id: string) => E.Effect<void, DeliveryStoreError>
  /** Ends the lease on `id` and schedules its next attempt. */
  readonly retry: (id: string, attempts: number, dueAt: number) => E.Effect<void, DeliveryStoreError>
  /** How many deliveries are kept. */
  readonly pending: E.Effect<number, DeliveryStoreError>
}>() {}

/** What a store holds per delivery: the delivery and its lease (epoch ms; 0 when not leased). */
export interface Held {
  readonly delivery: Delivery
  readonly leasedUntil: number
}

/** The claim rule on an in-process map, shared by the memory store and the journal. */
export const claimFrom = (held: Map<string, Held>, now: number, leaseMillis: number, limit: number): ReadonlyArray<Delivery> => {
  const due = [...held.values()]
    .filter(({ delivery, leasedUntil }) => delivery.dueAt <= now && leasedUntil <= now)
    .sort((a, b) => a.delivery.dueAt - b.delivery.dueAt)
    .slice(0, limit)
  for (const { delivery } of due) held.set(delivery.id, { delivery, leasedUntil: now + leaseMillis })
  return due.map(({ delivery }) => delivery)
}

/** In-process store, lost on restart (tests). */
export const layerMemory: Layer.Layer<DeliveryStore> = Layer.effect(
  DeliveryStore,
  Effect.map(Ref.make(new Map<string, Held>()), (ref) =>
    DeliveryStore.of({
      add: (delivery) => Ref.update(ref, (held) => held.has(delivery.id) ? held : new Map(held).set(delivery.id, { delivery, leasedUntil: 0 })),
      claimDue: (now, lease, limit) => Ref.modify(ref, (held) => {
        const next = new Map(held)
        return [claimFrom(next, now, lease, limit), next]
      }),
      acknowledge: (id) => Ref.update(ref, (held) => {
        const next = new Map(held)
        next.delete(id)
        return next
      }),
      retry: (id, attempts, dueAt) => Ref.update(ref, (held) => {
        const current = held.get(id)
        return current === undefined ? held : new Map(held).set(id, { delivery: { ...current.delivery, attempts, dueAt }, leasedUntil: 0 })
      }),
      pending: Effect.map(Ref.get(ref), (held) => held.size)
    }))
)
