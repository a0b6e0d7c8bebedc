/**
 * The per-client limits every inbound frame is counted against: messages per
 * window (the original rule) and, when set, frame bytes per window. Counts go
 * to the RateLimiter port. A limiter that fails lets frames through, and its
 * outage is logged once when it starts and once when it ends (OutageLog).
 * Only a limiter without a fallback can fail: the Redis one is wrapped in
 * LimiterFallback, which enforces the limits in memory meanwhile (and counts
 * the failures in rate_limiter_errors_total).
 */
import { Duration, Effect, Option } from "effect"
import * as Messages from "../../domain/Messages.js"
import * as Refusal from "../../domain/Refusal.js"
import * as Refusals from "../../domain/Refusals.js"
import * as OutageLog from "../resilience/OutageLog.js"
import { RateLimiter, type RateLimitVerdict } from "../ports/RateLimiter.js"

export interface FrameLimitSettings {
  readonly limit: number
  readonly window: Duration.Duration
  /** Most frame bytes per client per window (unlimited when absent). */
  readonly bytesLimit?: number
}

/** The byte rate limit's text (it lives in Refusals). */
export const bytesRateLimitExceeded = (bytes: number, seconds: number) => Refusals.bytesRateLimited(bytes, seconds).message

/**
 * `overLimit(client, bytes, continues)`: None when a frame of `bytes` from `client` is within the limits, else the
 * refusal to close with (with retry_after). A frame that `continues` a message already counted counts only its bytes.
 */
export const make = (settings: FrameLimitSettings) =>
  Effect.gen(function*() {
    const limiter = yield* RateLimiter
    const { bytesLimit, limit, window } = settings
    const outage = yield* OutageLog.make({
      down: "rate limiter unavailable; allowing messages until it is back",
      up: "rate limiter available again"
    })

    /** None within the limit, else the seconds until the window lets the client in again (at least 1). */
    const overBy = (verdict: RateLimitVerdict): Option.Option<number> =>
      verdict.allowed ? Option.none() : Option.some(Math.max(1, Math.ceil(verdict.resetAfterMillis / 1000)))

    // Runs for every frame: one step on the way in, a Ref read on the way out (OutageLog's `up`).
    const consume = (request: { readonly key: string; readonly limit: number; readonly cost?: number }) =>
      Effect.matchEffect(limiter.consume({ ...request, window }), {
        onFailure: (error) => Effect.as(outage.down(error), Option.none<number>()),
        onSuccess: (verdict) => Effect.as(outage.up, overBy(verdict))
      })

    // One after the other: two Redis round trips in a row beat forking for them (bench/limits.ts).
    // Combinators rather than a generator: this runs for every frame.
    const overBytes = (client: string, bytes: number): Effect.Effect<Option.Option<Refusal.Refusal>> =>
      bytesLimit === undefined
        ? Effect.succeedNone
        : Effect.map(consume({ key: `bytes:${client}`, limit: bytesLimit, cost: bytes }), (over) =>
          Option.map(over, (seconds) => Refusal.make("rate_limited", bytesRateLimitExceeded(bytesLimit, Duration.toSeconds(window)), seconds)))
    return (client: string, bytes: number, continues = false): Effect.Effect<Option.Option<Refusal.Refusal>> =>
      continues ? overBytes(client, bytes) : Effect.flatMap(consume({ key: client, limit }), (overMessages) =>
        Option.isSome(overMessages)
          ? Effect.succeed(Option.some(Refusal.make("rate_limited", Messages.RATE_LIMIT_EXCEEDED, overMessages.value)))
          : overBytes(client, bytes))
  })
