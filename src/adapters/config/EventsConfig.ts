/**
 * Settings of upload events and the pre-upload hook (WEBHOOK_*, EVENTS_*,
 * PRE_UPLOAD_HOOK_*), read with effect's Config. An empty URL means unset. A
 * bad value fails with a ConfigError naming the variable and the value.
 */
import { Config, ConfigError, Either, Option, Redacted } from "effect"
import { booleanFlag, integerBetween, invalid, optionalSecret } from "./ConfigValues.js"

/** An optional http(s) URL; empty counts as unset. */
const optionalUrl = (name: string): Config.Config<Option.Option<string>> =>
  Config.option(Config.string(name)).pipe(
    Config.mapOrFail((value) => {
      const text = Option.getOrElse(value, () => "").trim()
      if (text === "") return Either.right(Option.none())
      try {
        const url = new URL(text)
        if (url.protocol === "http:" || url.protocol === "https:") return Either.right(Option.some(url.toString()))
      } catch {
        // reported below
      }
      return invalid(name, "an http:// or https:// URL", text)
    })
  )

export interface WebhookConfig {
  readonly url: string
  readonly secret: Redacted.Redacted<string>
  readonly maxAttempts: number
  readonly timeoutSeconds: number
  readonly retryBaseMillis: number
  readonly queueSize: number
}

export interface EventsConfig {
  readonly webhook: Option.Option<WebhookConfig>
  /** The Redis stream events are XADDed to (needs REDIS_URL). */
  readonly stream: Option.Option<{ readonly name: string; readonly maxLength: number }>
  readonly preUploadHook: Option.Option<{
    readonly url: string
    /** WEBHOOK_SECRET: hook requests are signed when it is set. */
    readonly secret: Option.Option<Redacted.Redacted<string>>
    readonly timeoutSeconds: number
    readonly failOpen: boolean
  }>
}

const Settings = Config.all({
  webhookUrl: optionalUrl("WEBHOOK_URL"),
  webhookSecret: optionalSecret("WEBHOOK_SECRET"),
  maxAttempts: integerBetween("WEBHOOK_MAX_ATTEMPTS", 1, 100, 10),
  timeoutSeconds: integerBetween("WEBHOOK_TIMEOUT", 1, 300, 10, "seconds"),
  retryBaseMillis: integerBetween("WEBHOOK_RETRY_BASE_MS", 1, 3_600_000, 1000, "milliseconds"),
  queueSize: integerBetween("WEBHOOK_QUEUE_SIZE", 1, 1_000_000, 1000),
  stream: Config.option(Config.string("EVENTS_STREAM")).pipe(Config.map(Option.filter((name) => name.trim() !== ""))),
  streamMaxLength: integerBetween("EVENTS_STREAM_MAXLEN", 1, 1_000_000_000, 10_000),
  redisUrl: Config.option(Config.string("REDIS_URL")).pipe(Config.map(Option.filter((url) => url.trim() !== ""))),
  hookUrl: optionalUrl("PRE_UPLOAD_HOOK_URL"),
  hookTimeoutSeconds: integerBetween("PRE_UPLOAD_HOOK_TIMEOUT", 1, 300, 5, "seconds"),
  hookFailOpen: booleanFlag("PRE_UPLOAD_HOOK_FAIL_OPEN", false)
})

export const EventsConfig: Config.Config<EventsConfig> = Settings.pipe(
  Config.mapOrFail((s): Either.Either<EventsConfig, ConfigError.ConfigError> => {
    if (Option.isSome(s.webhookUrl) && Option.isNone(s.webhookSecret)) {
      return Either.left(ConfigError.InvalidData(["WEBHOOK_SECRET"], "expected a secret to sign webhook requests with (WEBHOOK_URL is set), got nothing"))
    }
    if (Option.isSome(s.stream) && Option.isNone(s.redisUrl)) {
      return Either.left(ConfigError.InvalidData(["EVENTS_STREAM"], `expected REDIS_URL to be set for a Redis stream, got "${s.stream.value}"`))
    }
    return Either.right({
      webhook: Option.map(Option.all({ url: s.webhookUrl, secret: s.webhookSecret }), ({ secret, url }) => ({
        url,
        secret,
        maxAttempts: s.maxAttempts,
        timeoutSeconds: s.timeoutSeconds,
        retryBaseMillis: s.retryBaseMillis,
        queueSize: s.queueSize
      })),
      stream: Option.map(s.stream, (name) => ({ name: name.trim(), maxLength: s.streamMaxLength })),
      preUploadHook: Option.map(s.hookUrl, (url) => ({
        url,
        secret: s.webhookSecret,
        timeoutSeconds: s.hookTimeoutSeconds,
        failOpen: s.hookFailOpen
      }))
    })
  })
)
