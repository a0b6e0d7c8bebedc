/**
 * Settings of upload events and the pre-upload hook (WEBHOOK_*, EVENTS_*,
 * PRE_UPLOAD_HOOK_*), read with effect's Config and decoded into each
 * receiver's settings. An empty URL means unset. A bad value fails with a
 * ConfigError naming the variable and the value.
 */
import { Config, ConfigError, Data, Duration, Either, Option } from "effect"
import type { StreamSettings } from "../redis/RedisEventStream.js"
import type { HookSettings } from "../webhook/HttpPreUploadHook.js"
import type { WebhookSettings } from "../webhook/WebhookUploadEvents.js"
import { booleanFlag, integerBetween, invalid, optionalSecret } from "./ConfigValues.js"
import type { RedisSettings } from "./RedisConfig.js"

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

/** Where webhook deliveries wait: in Redis with REDIS_URL, else in a journal file in the save directory. */
export type Deliveries = Data.TaggedEnum<{
  journal: { readonly directory: string }
  redis: { readonly redis: RedisSettings }
}>
export const Deliveries = Data.taggedEnum<Deliveries>()

export interface EventsConfig {
  readonly webhook: Option.Option<{ readonly settings: WebhookSettings; readonly deliveries: Deliveries }>
  /** The Redis stream events are XADDed to. */
  readonly stream: Option.Option<{ readonly settings: StreamSettings; readonly redis: RedisSettings }>
  readonly preUploadHook: Option.Option<HookSettings>
}

/** The variables as given; decoded by `decode`, which knows about Redis and the save directory. */
export const EventsVariables = Config.all({
  webhookUrl: optionalUrl("WEBHOOK_URL"),
  webhookSecret: optionalSecret("WEBHOOK_SECRET"),
  maxAttempts: integerBetween("WEBHOOK_MAX_ATTEMPTS", 1, 100, 10),
  timeoutSeconds: integerBetween("WEBHOOK_TIMEOUT", 1, 300, 10, "seconds"),
  retryBaseMillis: integerBetween("WEBHOOK_RETRY_BASE_MS", 1, 3_600_000, 1000, "milliseconds"),
  queueSize: integerBetween("WEBHOOK_QUEUE_SIZE", 1, 1_000_000, 1000),
  stream: Config.option(Config.string("EVENTS_STREAM")).pipe(Config.map(Option.filter((name) => name.trim() !== ""))),
  streamMaxLength: integerBetween("EVENTS_STREAM_MAXLEN", 1, 1_000_000_000, 10_000),
  hookUrl: optionalUrl("PRE_UPLOAD_HOOK_URL"),
  hookTimeoutSeconds: integerBetween("PRE_UPLOAD_HOOK_TIMEOUT", 1, 300, 5, "seconds"),
  hookFailOpen: booleanFlag("PRE_UPLOAD_HOOK_FAIL_OPEN", false)
})

export const decode = (
  s: Config.Config.Success<typeof EventsVariables>,
  context: { readonly redis: Option.Option<RedisSettings>; readonly directory: string }
): Either.Either<EventsConfig, ConfigError.ConfigError> => {
  if (Option.isSome(s.webhookUrl) && Option.isNone(s.webhookSecret)) {
    return Either.left(ConfigError.InvalidData(["WEBHOOK_SECRET"], "expected a secret to sign webhook requests with (WEBHOOK_URL is set), got nothing"))
  }
  if (Option.isSome(s.stream) && Option.isNone(context.redis)) {
    return Either.left(ConfigError.InvalidData(["EVENTS_STREAM"], `expected REDIS_URL to be set for a Redis stream, got "${s.stream.value}"`))
  }
  const deliveries = Option.match(context.redis, {
    onNone: () => Deliveries.journal({ directory: context.directory }),
    onSome: (redis) => Deliveries.redis({ redis })
  })
  return Either.right({
    webhook: Option.map(Option.all({ url: s.webhookUrl, secret: s.webhookSecret }), ({ secret, url }) => ({
      settings: {
        url,
        secret,
        maxAttempts: s.maxAttempts,
        timeout: Duration.seconds(s.timeoutSeconds),
        backoffBase: Duration.millis(s.retryBaseMillis),
        queueSize: s.queueSize
      },
      deliveries
    })),
    stream: Option.map(Option.all({ name: s.stream, redis: context.redis }), ({ name, redis }) => ({
      settings: { stream: name.trim(), maxLength: s.streamMaxLength },
      redis
    })),
    preUploadHook: Option.map(s.hookUrl, (url) => ({
      url,
      secret: s.webhookSecret,
      timeout: Duration.seconds(s.hookTimeoutSeconds),
      failOpen: s.hookFailOpen
    }))
  })
}
