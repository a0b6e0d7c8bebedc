/**
 * The abuse-protection settings: per-client and total limits, timeouts,
 * allowed origins and authentication tokens, read from environment
 * variables with effect's Config. A limit or timeout of 0 turns it off.
 * Tokens are secrets: they are read as Redacted and never appear in errors.
 */
import { Config, ConfigError, Either, Option, Redacted } from "effect"
import * as Authentication from "../http/Authentication.js"
import * as OriginPolicy from "../http/OriginPolicy.js"
import { integerBetween } from "./ConfigValues.js"

const GiB = 1024 * 1024 * 1024

/** An integer variable from `min` (0 unless given) to `max`, counting `unit` if given. */
const count = (name: string, fallback: number, max = Number.MAX_SAFE_INTEGER, min = 0, unit?: string): Config.Config<number> =>
  integerBetween(name, min, max, fallback, unit)

export interface SecurityConfig {
  /** 0 means unlimited, in each of these. */
  readonly limits: {
    readonly bytesPerPeriod: number
    readonly connectionsPerClient: number
    readonly connections: number
    readonly uploadsPerClient: number
    /** Chunks clients may be invited to send at once, across all connections (see Pacing). */
    readonly chunksInFlight: number
  }
  /** Seconds; 0 means no timeout (the handshake timeout is at least 1). */
  readonly timeouts: {
    readonly idleSeconds: number
    readonly handshakeSeconds: number
    readonly uploadStallSeconds: number
  }
  readonly allowedOrigins: OriginPolicy.OriginPolicy
  /** Tokens of AUTH_TOKENS (comma-separated), if set. */
  readonly authTokens: Option.Option<Redacted.Redacted<ReadonlyArray<Authentication.Token>>>
  /** The file AUTH_TOKENS_FILE names (one token per line), read when the server starts. */
  readonly authTokensFile: Option.Option<string>
}

export const SecurityConfig: Config.Config<SecurityConfig> = Config.all({
  limits: Config.all({
    bytesPerPeriod: count("RATE_LIMIT_BYTES_PER_PERIOD", GiB, Number.MAX_SAFE_INTEGER, 0, "bytes"),
    connectionsPerClient: count("MAX_CONNECTIONS_PER_IP", 100),
    connections: count("MAX_CONNECTIONS", 10_000),
    uploadsPerClient: count("MAX_UPLOADS_PER_IP", 100),
    chunksInFlight: count("MAX_CHUNKS_IN_FLIGHT", 64)
  }),
  timeouts: Config.all({
    idleSeconds: count("IDLE_TIMEOUT", 600, 24 * 3600, 0, "seconds"),
    handshakeSeconds: count("HANDSHAKE_TIMEOUT", 20, 3600, 1, "seconds"),
    uploadStallSeconds: count("UPLOAD_STALL_TIMEOUT", 120, 24 * 3600, 0, "seconds")
  }),
  allowedOrigins: Config.string("ALLOWED_ORIGINS").pipe(
    Config.withDefault(""),
    Config.mapOrFail((text) =>
      Either.mapLeft(OriginPolicy.parse(text), (expectation) =>
        ConfigError.InvalidData(["ALLOWED_ORIGINS"], `expected ${expectation}, got "${text}"`)))
  ),
  authTokens: Config.option(Config.redacted("AUTH_TOKENS")).pipe(
    Config.mapOrFail(Option.match({
      onNone: () => Either.right(Option.none()),
      onSome: (text) =>
        Redacted.value(text).trim() === ""
          ? Either.right(Option.none())
          : Either.map(
            Either.mapLeft(
              Authentication.parseTokens(Redacted.value(text).split(",")),
              (expectation) => ConfigError.InvalidData(["AUTH_TOKENS"], `expected ${expectation}`)
            ),
            (tokens) => Option.some(Redacted.make(tokens))
          )
    }))
  ),
  authTokensFile: Config.option(Config.string("AUTH_TOKENS_FILE")).pipe(
    Config.map(Option.filter((file) => file.trim() !== ""))
  )
})
