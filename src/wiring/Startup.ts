/**
 * Start-up around the service's layer: the save directory checked (and
 * created) before any store opens it, a deadline for the whole build (a
 * store that never answers), and one log line saying what was configured.
 */
import { Data, Duration, Effect, Layer, Option } from "effect"
import type { AppConfig } from "../adapters/config/AppConfig.js"
import * as SaveDirectory from "../adapters/config/SaveDirectory.js"

export class StartupTimeout extends Data.TaggedError("StartupTimeout")<{ readonly message: string }> {}

/** Whether anything configured keeps files in FILE_SAVE_DIRECTORY. */
const usesSaveDirectory = (config: AppConfig): boolean =>
  config.storage._tag === "filesystem" || config.registry._tag === "filesystem" ||
  Option.exists(config.events.webhook, ({ deliveries }) => deliveries._tag === "journal")

/** `layer`, built once the save directory is known to be usable (when something uses it). */
export const afterSaveDirectory = <A, E>(config: AppConfig, layer: Layer.Layer<A, E>) =>
  usesSaveDirectory(config) ? Layer.unwrapEffect(Effect.as(SaveDirectory.ensure(config.saveDirectory), layer)) : layer

/**
 * `layer`, failing with StartupTimeout when it is not built within `timeout`.
 * Disconnected, so that a step that cannot be interrupted (a promise that
 * never settles inside an acquisition) does not hold up the failure.
 */
export const withinDeadline = <A, E>(layer: Layer.Layer<A, E>, timeout: Duration.Duration): Layer.Layer<A, E | StartupTimeout> =>
  Layer.scopedContext(
    Layer.build(layer).pipe(
      Effect.disconnect,
      Effect.timeoutFail({
        duration: timeout,
        onTimeout: () =>
          new StartupTimeout({
            message: `not ready within ${Duration.toSeconds(timeout)} s (STARTUP_TIMEOUT): storage, the upload registry or Redis did not answer`
          })
      })
    )
  )

/** The configuration in one log line, without a secret. */
export const logConfiguration = (config: AppConfig) =>
  Effect.logInfo("configuration").pipe(Effect.annotateLogs({
    storage: config.storage._tag === "s3"
      ? `s3://${config.storage.settings.bucket}/${config.storage.settings.prefix}${config.storage.settings.endpoint === undefined ? "" : ` at ${config.storage.settings.endpoint}`}`
      : config.storage._tag,
    saveDirectory: config.saveDirectory,
    maxFileBytes: config.upload.maxFileBytes,
    allowedExtensions: config.upload.allowedExtensions.join(","),
    rateLimiter: Option.isSome(config.redis) ? "redis" : "memory",
    uploadRegistry: config.registry._tag,
    uploadExpirySeconds: Duration.toSeconds(config.uploadExpiry),
    ratePerPeriod: `${config.session.rateLimit.limit}/${Duration.toSeconds(config.session.rateLimit.window)}s`,
    authentication: Option.isSome(config.tokens) ? "tokens" : "off",
    allowedOrigins: config.transport.allowedOrigins._tag,
    uploadEvents: ["log", ...Option.toArray(Option.as(config.events.webhook, "webhook")), ...Option.toArray(Option.as(config.events.stream, "stream"))].join(","),
    preUploadHook: Option.isSome(config.events.preUploadHook)
  }))
