/**
 * The ConcurrencyLimiter port: how many things a key may hold at once
 * (connections per client, connections in total, unfinished uploads per
 * client), shared by every instance that uses the same backing store.
 *
 * A holder takes a lease on a slot under a key. A lease lapses by itself
 * `ttl` after it was last taken or renewed, so an instance that crashes
 * without releasing its leases frees their slots within one `ttl`; a live
 * holder renews its lease by acquiring it again before it lapses.
 */
import { Context, Data } from "effect"
import type { Duration, Effect } from "effect"

export class ConcurrencyLimiterError extends Data.TaggedError("ConcurrencyLimiterError")<{
  readonly reason: "Unavailable"
  readonly cause: unknown
}> {
  override get message(): string {
    return `Concurrency limiter unavailable: ${String(this.cause)}`
  }
}

export interface LeaseRequest {
  readonly key: string
  /** Who holds the slot: unique among the holders of `key` (a connection, an upload id). */
  readonly holder: string
  /** Most leases `key` may hold at once. */
  readonly limit: number
  /** How long the lease lasts unless it is renewed (acquired again) or released. */
  readonly ttl: Duration.Duration
}

export class ConcurrencyLimiter extends Context.Tag("file-receiver/ConcurrencyLimiter")<ConcurrencyLimiter, {
  /**
   * Takes a slot under `key` for `holder`, atomically: true when `holder`
   * already held one (the lease is then renewed, whatever the count) or when
   * fewer than `limit` unlapsed leases are held; false otherwise, and nothing
   * changes. Fails with `ConcurrencyLimiterError` when the backing store
   * cannot be reached.
   */
  readonly acquire: (request: LeaseRequest) => Effect.Effect<boolean, ConcurrencyLimiterError>
  /** Gives `holder`'s slot under `key` back. Idempotent. */
  readonly release: (key: string, holder: string) => Effect.Effect<void, ConcurrencyLimiterError>
  /** How many unlapsed leases `key` holds (for tests and metrics). */
  readonly count: (key: string) => Effect.Effect<number, ConcurrencyLimiterError>
}>() {}
