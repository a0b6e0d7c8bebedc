/**
 * Connection handling, for any transport: admission (the connection limits),
 * the connection metrics, the session and the loop that feeds it. A
 * transport turns what it accepted into an `Incoming` (a `Connection` to
 * answer on and a `Next` that yields what it received) and runs
 * `serve` until the connection ends.
 *
 * What the service cannot answer itself it fails with, for the transport to
 * answer in its own way: `ConnectionRefused` when admission refuses the
 * connection (WebSocket: an error reply, then close 1013; HTTP: 429 or 503),
 * `ConnectionBroken` when a defect (a bug) escaped the session, after logging
 * it (WebSocket: internal_error, then close 1011; HTTP: 500).
 */
import { Cause, Context, Data, Effect, Layer, Metric, MetricLabel, Option } from "effect"
import type { Scope } from "effect"
import type * as Refusal from "../../domain/Refusal.js"
import * as Finalizers from "../infrastructure/Finalizers.js"
import * as Metrics from "../infrastructure/Metrics.js"
import * as ConnectionAdmission from "../limits/ConnectionAdmission.js"
import type { ConcurrencyLimiter } from "../ports/ConcurrencyLimiter.js"
import { redact } from "../uploads/Uploads.js"
import type { Connection, Next } from "./Connection.js"
import * as SessionLoop from "./SessionLoop.js"
import { UploadSession } from "./UploadSession.js"

/** A connection as its transport hands it over: the peer and a way to answer it, and what it sends. */
export interface Incoming {
  readonly connection: Connection
  readonly next: Next
}

/** Admission refused the connection (a connection limit); nothing has been sent on it. */
export class ConnectionRefused extends Data.TaggedError("ConnectionRefused")<{ readonly refusal: Refusal.Refusal }> {}

/** A defect (a bug) that the session could not recover from ended the connection; it has been logged. */
export class ConnectionBroken extends Data.TaggedError("ConnectionBroken")<{}> {}

export interface ConnectionsSettings {
  /** Open connections allowed per client and in total (unlimited when absent). */
  readonly limits?: ConnectionAdmission.ConnectionLimitSettings | undefined
}

export class Connections extends Context.Tag("file-receiver/Connections")<Connections, {
  /**
   * Serves one connection until it ends: admits it, opens its session (closed,
   * and its upload suspended, when the connection ends), and hands the session
   * what `next` receives, in order, until the peer is gone or the session
   * closes the connection. Fails with ConnectionRefused before anything is
   * sent when admission refuses it, or with ConnectionBroken when a defect
   * escaped (logged with the client); never dies of a defect.
   */
  readonly serve: (incoming: Incoming) => Effect.Effect<void, ConnectionRefused | ConnectionBroken>
}>() {}

const admitAll: ConnectionAdmission.Admission = { admit: () => Effect.succeedNone }

/**
 * The `transport` label of each transport's metrics: one array per
 * transport, shared by all its connections. Effect caches a tagged metric's
 * registry entry by the labels' array, and `Effect.tagMetrics` would make a
 * new one for every connection (so a new key, its hash and a registry lookup
 * for every metric it updates).
 */
const transportLabels = new Map<string, ReadonlyArray<MetricLabel.MetricLabel>>()
const labelsOf = (transport: string): ReadonlyArray<MetricLabel.MetricLabel> => {
  let labels = transportLabels.get(transport)
  if (labels === undefined) {
    labels = [MetricLabel.make("transport", transport)]
    transportLabels.set(transport, labels)
  }
  return labels
}

export const make = (
  settings: ConnectionsSettings
): Effect.Effect<Context.Tag.Service<Connections>, never, UploadSession | ConcurrencyLimiter | Scope.Scope> =>
  Effect.gen(function*() {
    const sessions = yield* UploadSession
    const admission = settings.limits === undefined ? admitAll : yield* ConnectionAdmission.make(settings.limits)

    const refuse = (refusal: Refusal.Refusal) =>
      Effect.zipRight(
        Effect.zipRight(
          Metric.increment(Metrics.connectionsRefused("limit")),
          Effect.logWarning("connection refused: connection limit").pipe(Effect.annotateLogs({ reason: refusal.message }))
        ),
        Effect.fail(new ConnectionRefused({ refusal }))
      )

    const serveAdmitted = ({ connection, next }: Incoming) =>
      Effect.gen(function*() {
        yield* Finalizers.acquireRelease(
          Metric.increment(Metrics.activeConnections),
          () => Metric.incrementBy(Metrics.activeConnections, -1)
        )
        const session = yield* sessions.open(connection)
        yield* Effect.logDebug("client connected")
        yield* SessionLoop.serve(session, next)
      })

    const serve = (incoming: Incoming): Effect.Effect<void, ConnectionRefused | ConnectionBroken> =>
      Effect.flatMap(admission.admit(incoming.connection.clientAddress), (refused) =>
        Option.isSome(refused) ? refuse(refused.value) : serveAdmitted(incoming)).pipe(
          Effect.scoped,
          // The last resort: the session recovers from a defect in a frame's handling; one that escapes it
          // (opening or closing the session, say) is logged and ends the connection, never silently.
          Effect.catchAllDefect((defect) =>
            Effect.zipRight(
              Effect.logError("connection ended by a defect").pipe(
                Effect.annotateLogs({ error: redact(Cause.pretty(Cause.die(defect))) })
              ),
              Effect.fail(new ConnectionBroken())
            )
          ),
          // With no labels around it, Effect.labelMetrics keeps the array given, so the cache holds.
          Effect.labelMetrics(labelsOf(incoming.connection.transport ?? "websocket")),
          Effect.annotateLogs({
            client: incoming.connection.clientAddress,
            ...(incoming.connection.identity === undefined ? {} : { identity: incoming.connection.identity })
          })
        )

    return { serve }
  })

/** The service, with connection limits when `settings.limits` is set. */
export const layer = (settings: ConnectionsSettings): Layer.Layer<Connections, never, UploadSession | ConcurrencyLimiter> =>
  Layer.scoped(Connections, make(settings))
