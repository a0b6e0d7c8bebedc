/**
 * The Redis connection every Redis adapter shares (REDIS_URL, with its key
 * prefixes). An empty REDIS_URL means no Redis, as if it were unset; the
 * prefixes are checked in any case.
 */
import { Config, Option, Redacted } from "effect"
import { nonBlank } from "./ConfigValues.js"

export interface RedisSettings {
  /** A secret: it may hold a password. */
  readonly url: Redacted.Redacted<string>
  /** REDIS_KEY_PREFIX: upload records, connection leases and webhook deliveries live under it. */
  readonly keyPrefix: string
  /** RATE_LIMIT_KEY_PREFIX: the rate limiter's windows live under it. */
  readonly rateLimitKeyPrefix: string
}

export const RedisConfig: Config.Config<Option.Option<RedisSettings>> = Config.all({
  url: Config.option(Config.redacted("REDIS_URL")).pipe(Config.map(Option.filter((url) => Redacted.value(url).trim() !== ""))),
  keyPrefix: nonBlank("REDIS_KEY_PREFIX", "file_receiver", "a non-empty Redis key prefix"),
  rateLimitKeyPrefix: nonBlank("RATE_LIMIT_KEY_PREFIX", "rate_limit", "a non-empty Redis key prefix")
}).pipe(Config.map(({ url, ...prefixes }) => Option.map(url, (url) => ({ url, ...prefixes }))))
