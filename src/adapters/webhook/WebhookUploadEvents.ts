/**
 * UploadEvents receiver that POSTs each event to WEBHOOK_URL, signed. The
 * upload path only offers the event to a bounded in-memory queue; a
 * background fiber moves it into the durable DeliveryStore, and a worker
 * sends what is due, retrying network errors, timeouts, 408, 429 and 5xx
 * with exponential backoff and jitter up to `maxAttempts`, then gives up
 * (dead letter: logged and counted). Any other answer (another 4xx, a
 * redirect) is final.
 */
import { Clock, Duration, Effect, Metric, Option, Queue, Random, Redacted, Schedule } from "effect"
import type { Scope } from "effect"
import * as Metrics from "../../application/infrastructure/Metrics.js"
import type { UploadEvent } from "../../application/ports/UploadEvents.js"
import { type Delivery, DeliveryStore } from "../../application/ports/DeliveryStore.js"
import { post } from "./HttpPost.js"

export interface WebhookSettings {
  readonly url: string
  readonly secret: Redacted.Redacted<string>
  /** Attempts per delivery, the first included. */
  readonly maxAttempts: number
  /** Time allowed per request. */
  readonly timeout: Duration.Duration
  /** Delay before the second attempt; doubles each time (with jitter) up to `maxDelay`. */
  readonly backoffBase: Duration.Duration
  readonly maxDelay?: Duration.Duration
  /** Events held in memory before the store takes them; beyond it new events are dropped. */
  readonly queueSize: number
  /** How often the worker looks for due deliveries when nothing wakes it (default 1 s). */
  readonly pollInterval?: Duration.Duration
  /** Deliveries sent at once (default 4). */
  readonly concurrency?: number
}

/**
 * The delay before attempt `attempts + 1`, with "equal jitter": half of the
 * exponential delay fixed, half random (`random` in [0, 1)).
 */
export const backoffDelay = (attempts: number, baseMillis: number, maxMillis: number, random: number): number => {
  const exponential = Math.min(maxMillis, baseMillis * 2 ** Math.max(0, attempts - 1))
  return Math.round(exponential / 2 + (exponential / 2) * random)
}

type Outcome = "delivered" | "retry" | "rejected"

/** Deliveries claimed from the store per round. */
const CLAIM_BATCH = 16

/** Starts the queue and the worker in the current scope; the function that offers an event. */
export const make = (settings: WebhookSettings): Effect.Effect<(event: UploadEvent) => Effect.Effect<void>, never, DeliveryStore | Scope.Scope> =>
  Effect.gen(function*() {
    const store = yield* DeliveryStore
    const incoming = yield* Queue.dropping<Delivery>(settings.queueSize)
    const doorbell = yield* Queue.sliding<void>(1)
    const timeoutMillis = Duration.toMillis(settings.timeout)
    const concurrency = settings.concurrency ?? 4
    // A round claims up to CLAIM_BATCH deliveries and sends them `concurrency` at a time: the lease
    // must outlast the slowest of them, or another instance could claim and send one again meanwhile.
    const leaseMillis = Math.ceil(CLAIM_BATCH / concurrency) * timeoutMillis + 30_000
    const maxDelayMillis = Duration.toMillis(settings.maxDelay ?? Duration.minutes(5))
    const log = Effect.annotateLogs({ webhook: new URL(settings.url).origin })

    const updatePending = Effect.flatMap(Effect.either(store.pending), (stored) =>
      Effect.flatMap(incoming.size, (queued) =>
        Metric.set(Metrics.webhookDeliveriesPending, (stored._tag === "Right" ? stored.right : 0) + queued)))

    // At shutdown (after the fibers below have stopped), what is still queued goes to the store.
    yield* Effect.addFinalizer(() =>
      Queue.takeAll(incoming).pipe(
        Effect.flatMap((left) => Effect.forEach(left, store.add, { discard: true })),
        Effect.timeout(Duration.seconds(5)),
        Effect.catchAll((error) => Effect.logError("webhook deliveries lost at shutdown").pipe(Effect.annotateLogs({ error: String(error) }), log))
      )
    )

    // Queue -> durable store. A store outage holds events here (the queue then fills and drops).
    yield* Queue.take(incoming).pipe(
      Effect.flatMap((delivery) =>
        store.add(delivery).pipe(
          Effect.tapError((error) => Effect.logWarning("webhook delivery store unavailable; retrying").pipe(Effect.annotateLogs({ error: error.message }), log)),
          Effect.retry(Schedule.exponential(Duration.millis(100)).pipe(Schedule.union(Schedule.spaced(Duration.seconds(5))))),
          // Interrupted (shutdown) before the store took it: back to the queue, for the finalizer.
          Effect.onInterrupt(() => incoming.offer(delivery))
        )
      ),
      Effect.zipRight(doorbell.offer(undefined)),
      Effect.forever,
      Effect.interruptible,
      Effect.forkScoped
    )

    const attempt = (delivery: Delivery): Effect.Effect<Outcome> =>
      post({
        url: settings.url,
        body: delivery.body,
        secret: Option.some(settings.secret),
        timeoutMillis,
        headers: {
          "x-file-receiver-event": delivery.type,
          "x-file-receiver-delivery": delivery.id,
          "x-file-receiver-attempt": String(delivery.attempts + 1)
        }
      }).pipe(
        Effect.map(({ status }): Outcome =>
          status >= 200 && status < 300 ? "delivered" : status >= 500 || status === 429 || status === 408 ? "retry" : "rejected"
        ),
        Effect.tap((outcome) =>
          outcome === "delivered" ? Effect.void : Effect.logWarning("webhook answered with an error").pipe(Effect.annotateLogs({ outcome }))
        ),
        Effect.catchAll((error) => Effect.as(Effect.logWarning("webhook delivery failed").pipe(Effect.annotateLogs({ error: error.message })), "retry" as const)),
        Effect.annotateLogs({ event: delivery.id, type: delivery.type, attempt: delivery.attempts + 1 }),
        log
      )

    const giveUp = (delivery: Delivery, reason: "attempts" | "rejected", attempts: number) =>
      Effect.zipRight(
        store.acknowledge(delivery.id),
        Effect.zipRight(
          Metric.increment(Metrics.webhookDeliveriesFailed(reason)),
          Effect.logError("webhook delivery given up").pipe(Effect.annotateLogs({ event: delivery.id, type: delivery.type, reason, attempts }), log)
        )
      )

    const deliver = (delivery: Delivery) =>
      Effect.gen(function*() {
        const outcome = yield* attempt(delivery)
        const attempts = delivery.attempts + 1
        if (outcome === "delivered") {
          yield* store.acknowledge(delivery.id)
          return yield* Metric.increment(Metrics.webhookDeliveriesSucceeded)
        }
        if (outcome === "rejected") return yield* giveUp(delivery, "rejected", attempts)
        if (attempts >= settings.maxAttempts) return yield* giveUp(delivery, "attempts", attempts)
        const delay = backoffDelay(attempts, Duration.toMillis(settings.backoffBase), maxDelayMillis, yield* Random.next)
        yield* store.retry(delivery.id, attempts, (yield* Clock.currentTimeMillis) + delay)
      })

    /** One round: sends what is due; whether there was anything. */
    const round = Effect.gen(function*() {
      const due = yield* store.claimDue(yield* Clock.currentTimeMillis, leaseMillis, CLAIM_BATCH)
      yield* Effect.forEach(due, (delivery) => Effect.catchAll(deliver(delivery), (error) =>
        Effect.logWarning("webhook delivery store unavailable").pipe(Effect.annotateLogs({ error: error.message }), log)), {
        concurrency,
        discard: true
      })
      return due.length > 0
    })

    const idle = Effect.race(Effect.sleep(settings.pollInterval ?? Duration.seconds(1)), doorbell.take)
    yield* round.pipe(
      Effect.catchAll((error) =>
        Effect.as(Effect.logWarning("webhook delivery store unavailable").pipe(Effect.annotateLogs({ error: error.message }), log), false)
      ),
      Effect.tap(() => updatePending),
      Effect.flatMap((busy) => (busy ? Effect.void : idle)),
      Effect.forever,
      Effect.interruptible,
      Effect.forkScoped
    )

    return (event: UploadEvent) =>
      Effect.gen(function*() {
        const delivery: Delivery = { id: event.id, type: event.type, body: JSON.stringify(event), attempts: 0, dueAt: yield* Clock.currentTimeMillis }
        if (yield* incoming.offer(delivery)) return
        yield* Metric.increment(Metrics.webhookDeliveriesFailed("overflow"))
        yield* Effect.logError("webhook queue full; event dropped").pipe(Effect.annotateLogs({ event: event.id, type: event.type }), log)
      })
  })
