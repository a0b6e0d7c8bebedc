/**
 * The abuse-protection settings: per-client and total limits, timeouts and
 * allowed origins, read from environment variables with effect's Config.
 * A limit or timeout of 0 turns it off: it is None here. AppConfig hands
 * them to the transport and the upload session.
 */
import { Config, ConfigError, Duration, Either, Option } from "effect"
import * as OriginPolicy from "../http/OriginPolicy.js"
import { integerBetween, offAtZero } from "./ConfigValues.js"

const GiB = 1024 * 1024 * 1024

/** An integer variable from `min` (0 unless given) to `max`, counting `unit` if given. */
const count = (name: string, fallback: number, max = Number.MAX_SAFE_INTEGER, min = 0, unit?: string): Config.Config<number> =>
  integerBetween(name, min, max, fallback, unit)

/** A timeout in seconds, from 0 (off: None) to `max`. */
const timeout = (name: string, fallback: number, max: number): Config.Config<Option.Option<Duration.Duration>> =>
  offAtZero(count(name, fallback, max, 0, "seconds")).pipe(Config.map(Option.map(Duration.seconds)))

export interface SecurityConfig {
  /** None: no limit. */
  readonly limits: {
    readonly bytesPerPeriod: Option.Option<number>
    readonly connectionsPerClient: Option.Option<number>
    readonly connections: Option.Option<number>
    readonly uploadsPerClient: Option.Option<number>
    /** Chunks clients may be invited to send at once, across all connections (see Pacing). */
    readonly chunksInFlight: Option.Option<number>
  }
  /** None: no timeout (the handshake always has one). */
  readonly timeouts: {
    readonly idle: Option.Option<Duration.Duration>
    readonly handshake: Duration.Duration
    readonly uploadStall: Option.Option<Duration.Duration>
  }
  readonly allowedOrigins: OriginPolicy.OriginPolicy
}

export const SecurityConfig: Config.Config<SecurityConfig> = Config.all({
  limits: Config.all({
    bytesPerPeriod: offAtZero(count("RATE_LIMIT_BYTES_PER_PERIOD", GiB, Number.MAX_SAFE_INTEGER, 0, "bytes")),
    connectionsPerClient: offAtZero(count("MAX_CONNECTIONS_PER_IP", 100)),
    connections: offAtZero(count("MAX_CONNECTIONS", 10_000)),
    uploadsPerClient: offAtZero(count("MAX_UPLOADS_PER_IP", 100)),
    chunksInFlight: offAtZero(count("MAX_CHUNKS_IN_FLIGHT", 64))
  }),
  timeouts: Config.all({
    idle: timeout("IDLE_TIMEOUT", 600, 24 * 3600),
    handshake: count("HANDSHAKE_TIMEOUT", 20, 3600, 1, "seconds").pipe(Config.map(Duration.seconds)),
    uploadStall: timeout("UPLOAD_STALL_TIMEOUT", 120, 24 * 3600)
  }),
  allowedOrigins: Config.string("ALLOWED_ORIGINS").pipe(
    Config.withDefault(""),
    Config.mapOrFail((text) =>
      Either.mapLeft(OriginPolicy.parse(text), (expectation) =>
        ConfigError.InvalidData(["ALLOWED_ORIGINS"], `expected ${expectation}, got "${text}"`)))
  )
})
