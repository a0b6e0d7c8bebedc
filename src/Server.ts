/**
 * The whole service as one Layer: configuration -> layers. AppConfig decodes
 * every setting into what each layer takes, and each concern's adapter is
 * picked here from its setting, one line per concern (the pickers are in
 * src/wiring/). `main.ts` runs it; end-to-end tests run it on port 0.
 */
import { Duration, Effect, Layer, Option, Redacted } from "effect"
import { AppConfig } from "./adapters/config/AppConfig.js"
import * as WorkerDigests from "./adapters/digest/WorkerDigests.js"
import { PublicConfig } from "./adapters/http/PublicConfig.js"
import * as HttpUploadEndpoint from "./adapters/tus/HttpUploadEndpoint.js"
import * as WebSocketServer from "./adapters/ws/WebSocketServer.js"
import * as Pacing from "./application/limits/Pacing.js"
import * as Connections from "./application/session/Connections.js"
import * as UploadSession from "./application/session/UploadSession.js"
import * as UploadExpiry from "./application/uploads/UploadExpiry.js"
import * as Events from "./wiring/Events.js"
import * as Limits from "./wiring/Limits.js"
import * as Startup from "./wiring/Startup.js"
import * as Storage from "./wiring/Storage.js"

export { StartupTimeout } from "./wiring/Startup.js"

/** How long an HTTP upload request's body may send nothing, and a channel wait for its next request, when UPLOAD_STALL_TIMEOUT is off. */
const HTTP_STALL_MILLIS = 120_000
/**
 * How long an HTTP upload stays open in the process after a request: long enough for the next request of a
 * chunked upload, short enough that tus-js-client's retries (0, 1, 3, 5 s) find it free on another instance.
 */
const HTTP_LINGER_MILLIS = 2_000

/** Uploads smaller than this are hashed on the event loop's thread: a round trip to a worker costs more than their hash. */
const DIGEST_ON_THREAD_BELOW = 128 * 1024
/** Most bytes copied to the digest threads and not hashed yet: a few chunks, whatever the number of uploads. */
const DIGEST_BACKLOG_BYTES = 4 * 1024 * 1024

/** The service for a given configuration. */
export const layerFrom = (config: AppConfig) => {
  const { connectionLimits, ...transportSettings } = config.transport
  const tokens = Option.getOrUndefined(Option.map(config.tokens, Redacted.value))
  const transport = WebSocketServer.layer({ ...transportSettings, tokens })
  // tus 1.0 and the IETF draft at /files/, over the same Connections service.
  const httpUploads = HttpUploadEndpoint.layer({
    expiryMillis: Duration.toMillis(config.uploadExpiry),
    stallMillis: Option.getOrElse(Option.map(Option.fromNullable(config.session.timeouts.stall), Duration.toMillis), () => HTTP_STALL_MILLIS),
    lingerMillis: HTTP_LINGER_MILLIS,
    trust: transportSettings.trust,
    allowedOrigins: transportSettings.allowedOrigins,
    tokens
  })
  const served = Layer.mergeAll(
    // Any transport drives connections through this service: admission, the session loop, metrics, refusals.
    Connections.layer({ limits: connectionLimits }).pipe(Layer.provide(UploadSession.layer({ upload: config.upload, ...config.session }))),
    Limits.readiness(config.redis),
    Layer.succeed(PublicConfig, { ...config.upload, authRequired: Option.isSome(config.tokens) })
  )
  const backends = Layer.mergeAll(
    Storage.fileStore(config.storage),
    Storage.uploadRegistry(config.registry),
    Limits.limiters(config.redis)
  )
  // Optional services: the session and the sweep use them when present.
  const optional = Layer.mergeAll(
    Events.uploadEvents(config.events, config.storage),
    Events.preUploadHook(config.events),
    Option.match(config.pacing, { onNone: () => Layer.empty, onSome: Pacing.layer }),
    WorkerDigests.layer({ threads: config.digestThreads, onThreadBelow: DIGEST_ON_THREAD_BELOW, backlogBytes: DIGEST_BACKLOG_BYTES })
  )
  return transport.pipe(
    Layer.provide(httpUploads),
    Layer.provide(served),
    Layer.merge(UploadExpiry.layer({ expiry: config.uploadExpiry })),
    Layer.provide(backends),
    Layer.provide(optional)
  )
}

/** The service, configured from the environment (or the current ConfigProvider). */
export const layer = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    Startup.withinDeadline(Startup.afterSaveDirectory(config, layerFrom(config)), config.startupTimeout).pipe(
      Layer.tap(() => Startup.logConfiguration(config))
    ))
)
