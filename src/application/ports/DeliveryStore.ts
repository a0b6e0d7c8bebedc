/**
 * Where webhook deliveries wait until a receiver acknowledges them, so that
 * they survive a restart: Redis (shared by instances) or a journal file next
 * to the uploads (one instance per directory). A claim leases a delivery, so
 * two workers (or instances) never send the same one at the same time; a
 * lease that is never settled (the worker died) lapses and the delivery is
 * sent again. Delivery is therefore at least once.
 *
 * Every method fails with DeliveryStoreError: `Unavailable` when the store
 * cannot be read or written, `Corrupt` when what it holds cannot be read
 * back. In-process stores live in adapters/memory (tests) and adapters/fs.
 */
import { Context, Data, type Effect } from "effect"

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
  /** Keeps `delivery` until it is acknowledged. Idempotent per id: a second add of an id keeps the first. */
  readonly add: (delivery: Delivery) => Effect.Effect<void, DeliveryStoreError>
  /**
   * Up to `limit` deliveries due at `now` that nobody holds, oldest due
   * first, each leased to the caller until `now + leaseMillis`: no other
   * claim returns it before.
   */
  readonly claimDue: (now: number, leaseMillis: number, limit: number) => Effect.Effect<ReadonlyArray<Delivery>, DeliveryStoreError>
  /** Forgets `id` (delivered, or given up). Idempotent. */
  readonly acknowledge: (id: string) => Effect.Effect<void, DeliveryStoreError>
  /** Ends the lease on `id` and schedules its next attempt at `dueAt`, with `attempts` made; an unknown id is ignored. */
  readonly retry: (id: string, attempts: number, dueAt: number) => Effect.Effect<void, DeliveryStoreError>
  /** How many deliveries are kept. */
  readonly pending: Effect.Effect<number, DeliveryStoreError>
}>() {}
