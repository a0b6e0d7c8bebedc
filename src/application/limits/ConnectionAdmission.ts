/**
 * Admission of connections: at most `perClient` open connections per client
 * address and `total` in all, across every instance sharing the
 * ConcurrencyLimiter. A connection holds its two leases for as long as its
 * scope is open; they are renewed every third of `LEASE_TTL`, so the slots
 * of an instance that crashes lapse within `LEASE_TTL`.
 */
import { Duration, Effect, Either, Option, Schedule } from "effect"
import * as Refusal from "../../domain/Refusal.js"
import * as Refusals from "../../domain/Refusals.js"
import type { Scope } from "effect"
import { randomUUID } from "node:crypto"
import { ConcurrencyLimiter, type ConcurrencyLimiterError } from "../ports/ConcurrencyLimiter.js"
import * as Finalizers from "../infrastructure/Finalizers.js"

/** WebSocket close code for a connection refused by a connection limit ("Try Again Later"); the codes live in Refusals. */
export const CLOSE_TRY_AGAIN_LATER = Refusals.CLOSE_CODES.tryAgainLater

export const LEASE_TTL = Duration.seconds(30)
const RENEW_EVERY = Duration.seconds(10)

export interface ConnectionLimitSettings {
  readonly perClient: number
  readonly total: number
}

// The refusal texts live in Refusals.
export const tooManyFromClient = (limit: number) => Refusals.tooManyFromClient(limit).message

export const TOO_MANY_CONNECTIONS = Refusals.tooManyConnections().message

const clientKey = (clientAddress: string) => `connections:${clientAddress}`
const TOTAL_KEY = "connections"

/** Connection admission, for the connections of one server. */
export interface Admission {
  /**
   * Takes a connection slot for `clientAddress` for the rest of the current
   * scope: None when admitted, or the refusal to refuse the connection
   * with. A limiter that cannot be reached at all admits (and logs): the
   * Redis limiter falls back to memory, so this is only a last resort.
   */
  readonly admit: (clientAddress: string) => Effect.Effect<Option.Option<Refusal.Refusal>, never, Scope.Scope>
}

/**
 * Admission under `settings`. One fiber, in the caller's scope, renews the
 * leases of every admitted connection every `RENEW_EVERY` (a fiber per
 * connection cost about 9 KB of memory each). A renewal that crosses a
 * connection's release can leave its lease behind; it lapses within
 * `LEASE_TTL`, as a crashed instance's do.
 */
export const make = (
  settings: ConnectionLimitSettings
): Effect.Effect<Admission, never, ConcurrencyLimiter | Scope.Scope> =>
  Effect.gen(function*() {
    const limiter = yield* ConcurrencyLimiter
    const take = (key: string, limit: number, holder: string) => limiter.acquire({ key, holder, limit, ttl: LEASE_TTL })
    /** The admitted connections' holder names, with their client's key; changed only in synchronous steps. */
    const admitted = new Map<string, string>()

    const renewOne = (holder: string, key: string) =>
      Effect.suspend(() =>
        // A connection that has gone since the round started keeps nothing.
        admitted.has(holder)
          ? Effect.all([take(key, settings.perClient, holder), take(TOTAL_KEY, settings.total, holder)], { discard: true })
          : Effect.void
      ).pipe(Effect.either)
    const renewAll = Effect.suspend(() =>
      Effect.forEach([...admitted], ([holder, key]) => renewOne(holder, key), { concurrency: 8 })
    ).pipe(
      Effect.flatMap((results) => {
        const failed = results.filter(Either.isLeft)
        const first = failed[0]
        return first === undefined ? Effect.void : Effect.logWarning("could not renew connection leases").pipe(
          Effect.annotateLogs({ connections: failed.length, error: first.left.message })
        )
      })
    )
    yield* Effect.forkScoped(Effect.repeat(Effect.delay(renewAll, RENEW_EVERY), Schedule.forever))

    const admit = (clientAddress: string): Effect.Effect<Option.Option<Refusal.Refusal>, never, Scope.Scope> =>
      Effect.gen(function*() {
        // Random, so that no two connections on any instance ever share a holder name.
        const holder = randomUUID()
        const key = clientKey(clientAddress)
        const giveBack = (leaseKey: string) => Effect.ignoreLogged(limiter.release(leaseKey, holder))

        const perClient = yield* Finalizers.acquireRelease(take(key, settings.perClient, holder), (taken) =>
          taken ? giveBack(key) : Effect.void)
        if (!perClient) return Option.some(Refusal.make("too_many_connections", tooManyFromClient(settings.perClient)))
        const total = yield* Finalizers.acquireRelease(take(TOTAL_KEY, settings.total, holder), (taken) =>
          taken ? giveBack(TOTAL_KEY) : Effect.void)
        if (!total) return Option.some(Refusal.make("too_many_connections", TOO_MANY_CONNECTIONS))

        // Renewed from now on; the finalizer runs before the releases above (finalizers run in reverse).
        admitted.set(holder, key)
        yield* Finalizers.addFinalizer(Effect.sync(() => admitted.delete(holder)))
        return Option.none()
      }).pipe(
        Effect.catchAll((error: ConcurrencyLimiterError) =>
          Effect.as(
            Effect.logError("connection limiter unavailable; admitting").pipe(Effect.annotateLogs({ error: error.message })),
            Option.none()
          )
        )
      )

    return { admit }
  })
