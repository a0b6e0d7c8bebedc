/**
 * Admission of connections: at most `perClient` open connections per client
 * address and `total` in all, across every instance sharing the
 * ConcurrencyLimiter. A connection holds its two leases for as long as its
 * scope is open and renews them every third of `LEASE_TTL`, so the slots of
 * an instance that crashes lapse within `LEASE_TTL`.
 */
import { Duration, Effect, Option, Schedule } from "effect"
import type { Scope } from "effect"
import { randomUUID } from "node:crypto"
import { ConcurrencyLimiter, type ConcurrencyLimiterError } from "./ConcurrencyLimiter.js"
import * as Finalizers from "./Finalizers.js"

/** WebSocket close code for a connection refused by a connection limit ("Try Again Later"). */
export const CLOSE_TRY_AGAIN_LATER = 1013

export const LEASE_TTL = Duration.seconds(30)
const RENEW_EVERY = Duration.seconds(10)

export interface ConnectionLimitSettings {
  readonly perClient: number
  readonly total: number
}

export const tooManyFromClient = (limit: number) =>
  `Too many connections from this address (limit ${limit}); close one or try again later`

export const TOO_MANY_CONNECTIONS = "The server has too many connections; try again later"

const clientKey = (clientAddress: string) => `connections:${clientAddress}`
const TOTAL_KEY = "connections"

/**
 * Takes a connection slot for `clientAddress` for the rest of the current
 * scope: None when admitted, or the error text to refuse the connection
 * with. A limiter that cannot be reached at all admits (and logs): the
 * Redis limiter falls back to memory, so this is only a last resort.
 */
export const admit = (
  settings: ConnectionLimitSettings,
  clientAddress: string
): Effect.Effect<Option.Option<string>, never, ConcurrencyLimiter | Scope.Scope> =>
  Effect.gen(function*() {
    const limiter = yield* ConcurrencyLimiter
    // Random, so that no two connections on any instance ever share a holder name.
    const holder = randomUUID()
    const take = (key: string, limit: number) => limiter.acquire({ key, holder, limit, ttl: LEASE_TTL })
    const giveBack = (key: string) => Effect.ignoreLogged(limiter.release(key, holder))

    const perClient = yield* Finalizers.acquireRelease(take(clientKey(clientAddress), settings.perClient), (taken) =>
      taken ? giveBack(clientKey(clientAddress)) : Effect.void)
    if (!perClient) return Option.some(tooManyFromClient(settings.perClient))
    const total = yield* Finalizers.acquireRelease(take(TOTAL_KEY, settings.total), (taken) =>
      taken ? giveBack(TOTAL_KEY) : Effect.void)
    if (!total) return Option.some(TOO_MANY_CONNECTIONS)

    const renew = Effect.all([take(clientKey(clientAddress), settings.perClient), take(TOTAL_KEY, settings.total)], {
      discard: true
    }).pipe(Effect.catchAll((error: ConcurrencyLimiterError) => Effect.logWarning("could not renew connection leases").pipe(
      Effect.annotateLogs({ error: error.message })
    )))
    yield* Effect.forkScoped(Effect.repeat(Effect.delay(renew, RENEW_EVERY), Schedule.forever))
    return Option.none()
  }).pipe(
    Effect.catchAll((error) =>
      Effect.as(Effect.logError("connection limiter unavailable; admitting").pipe(Effect.annotateLogs({ error: error.message })), Option.none())
    )
  )
