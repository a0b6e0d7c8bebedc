/**
 * The RateLimiter port: fixed-window counters keyed by client, shared by every
 * instance that uses the same backing store.
 */
import { Context, Data } from "effect"
import type { Duration, Effect } from "effect"

export class RateLimiterError extends Data.TaggedError("RateLimiterError")<{
  readonly reason: "Unavailable"
  readonly cause: unknown
}> {
  override get message(): string {
    return `Rate limiter unavailable: ${String(this.cause)}`
  }
}

/** The outcome of one `consume`. */
export interface RateLimitVerdict {
  /** False once the window's count is above the limit. */
  readonly allowed: boolean
  /** Hits counted in the current window, this one included. */
  readonly count: number
  /** Time until the current window ends and the count starts again at zero. */
  readonly resetAfterMillis: number
}

export interface RateLimitRequest {
  readonly key: string
  /** Most hits allowed in one window. */
  readonly limit: number
  readonly window: Duration.Duration
  /** How much this hit counts (default 1). */
  readonly cost?: number
}

export class RateLimiter extends Context.Tag("file-receiver/RateLimiter")<RateLimiter, {
  /**
   * Adds `cost` to `key`'s count in its current fixed window (the window opens
   * at the key's first hit and lasts `window`), atomically, and tells whether
   * the count is still within `limit`. Fails with `RateLimiterError` when the
   * backing store cannot be reached.
   */
  readonly consume: (request: RateLimitRequest) => Effect.Effect<RateLimitVerdict, RateLimiterError>
}>() {}
