/**
 * Helpers for webhook tests: settings with short delays, a sample event, a
 * receiver in the test's scope, and a webhook worker that can be stopped
 * (a shutdown) and started again on the same store (a restart).
 */
import { Duration, Effect, ExecutionStrategy, Exit, Layer, Redacted, Scope } from "effect"
import { eventFor } from "../../src/application/ports/UploadEvents.js"
import { DeliveryStore } from "../../src/application/ports/DeliveryStore.js"
import * as WebhookUploadEvents from "../../src/adapters/webhook/WebhookUploadEvents.js"
import { type Answer, type Received, startReceiver } from "./receiver.js"

export const SECRET = "whsec_test_secret"

export const settingsFor = (url: string, overrides: Partial<WebhookUploadEvents.WebhookSettings> = {}): WebhookUploadEvents.WebhookSettings => ({
  url,
  secret: Redacted.make(SECRET),
  maxAttempts: 5,
  timeout: Duration.seconds(10),
  backoffBase: Duration.millis(50),
  queueSize: 100,
  pollInterval: Duration.millis(20),
  ...overrides
})

export const completedEvent = (uploadId = "kBFY8wjMVR79M9Gs99onAzrm") =>
  eventFor({
    type: "upload.completed",
    uploadId,
    fileName: "notes.txt",
    storedName: "notes.txt",
    size: 11,
    extension: "txt",
    sha256: "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
    location: "/srv/uploads/notes.txt",
    clientAddress: "192.0.2.7",
    startedAt: Date.now()
  })

/** A receiver in the test's scope. */
export const receiver = (respond: (request: Received, index: number) => Answer) =>
  Effect.acquireRelease(Effect.promise(() => startReceiver(respond)), (r) => Effect.promise(() => r.close()))

/** Starts the webhook worker on `store` in a scope of its own (`stop` is a shutdown). */
export const startWebhook = (settings: WebhookUploadEvents.WebhookSettings, store: Layer.Layer<DeliveryStore, unknown>) =>
  Effect.gen(function*() {
    // A child of the test's scope: stopped at the end of the test at the latest.
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    const context = yield* Layer.buildWithScope(store, scope)
    const publish = yield* WebhookUploadEvents.make(settings).pipe(Effect.provide(context), Scope.extend(scope))
    const pending = Effect.flatMap(DeliveryStore.pipe(Effect.provide(context)), (s) => s.pending)
    return { publish, pending, stop: Scope.close(scope, Exit.void), store: Effect.provide(DeliveryStore, context) }
  })


/** Polls `check` (live clock) until it holds; dies after `timeoutMillis`. */
export const eventually = (check: Effect.Effect<boolean, unknown>, timeoutMillis = 10_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMillis
    while (!(yield* check)) {
      if (Date.now() > deadline) return yield* Effect.dieMessage("condition not met in time")
      yield* Effect.sleep(Duration.millis(20))
    }
  })
