/**
 * The abuse-protection settings read from a map of environment variables:
 * defaults, spellings, and start-up errors that name the variable and never
 * quote a token.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigProvider, Effect, Option, Redacted } from "effect"
import { AppConfig, formatConfigError } from "../../../src/adapters/config/AppConfig.js"
import * as Authentication from "../../../src/adapters/http/Authentication.js"
import * as ClientAddress from "../../../src/adapters/http/ClientAddress.js"

const read = (...entries: ReadonlyArray<readonly [string, string]>) =>
  AppConfig.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries))))

const failure = (...entries: ReadonlyArray<readonly [string, string]>) =>
  read(...entries).pipe(Effect.flip, Effect.map(formatConfigError))

describe("security settings", () => {
  it.effect("have generous defaults: limits on, same-host origins, no authentication, headers not trusted", () =>
    Effect.gen(function*() {
      const { security, trustProxy } = yield* read()
      expect(security.limits).toEqual({
        bytesPerPeriod: 1024 * 1024 * 1024,
        connectionsPerClient: 100,
        connections: 10_000,
        uploadsPerClient: 100,
        chunksInFlight: 64
      })
      expect(security.timeouts).toEqual({ idleSeconds: 600, handshakeSeconds: 20, uploadStallSeconds: 120 })
      expect(security.allowedOrigins).toEqual({ _tag: "SameHost" })
      expect(Option.isNone(security.authTokens)).toBe(true)
      expect(Option.isNone(security.authTokensFile)).toBe(true)
      expect(trustProxy).toEqual(ClientAddress.trustNobody)
    }))

  it.effect("reads each variable when it is set; 0 turns a limit or timeout off", () =>
    Effect.gen(function*() {
      const { security, trustProxy } = yield* read(
        ["RATE_LIMIT_BYTES_PER_PERIOD", "0"],
        ["MAX_CONNECTIONS_PER_IP", "3"],
        ["MAX_CONNECTIONS", "50"],
        ["MAX_UPLOADS_PER_IP", "7"],
        ["MAX_CHUNKS_IN_FLIGHT", "16"],
        ["IDLE_TIMEOUT", "0"],
        ["HANDSHAKE_TIMEOUT", "5"],
        ["UPLOAD_STALL_TIMEOUT", "30"],
        ["ALLOWED_ORIGINS", "https://a.example"],
        ["AUTH_TOKENS", "ci:0123456789abcdef0123, ops:fedcba9876543210fedc"],
        ["AUTH_TOKENS_FILE", "/run/secrets/tokens"],
        ["TRUST_PROXY", "10.0.0.0/8, ::1/128"]
      )
      expect(security.limits).toEqual({ bytesPerPeriod: 0, connectionsPerClient: 3, connections: 50, uploadsPerClient: 7, chunksInFlight: 16 })
      expect(security.timeouts).toEqual({ idleSeconds: 0, handshakeSeconds: 5, uploadStallSeconds: 30 })
      expect(security.allowedOrigins).toEqual({ _tag: "Listed", origins: new Set(["https://a.example"]) })
      const tokens = Option.getOrThrow(security.authTokens)
      expect(String(tokens)).not.toContain("0123456789abcdef")
      expect(Authentication.authenticate(Redacted.value(tokens), "fedcba9876543210fedc")).toEqual(Option.some("ops"))
      expect(security.authTokensFile).toEqual(Option.some("/run/secrets/tokens"))
      expect(trustProxy._tag).toBe("Networks")
    }))

  it.effect("treats an empty AUTH_TOKENS as authentication off", () =>
    Effect.gen(function*() {
      expect(Option.isNone((yield* read(["AUTH_TOKENS", " "])).security.authTokens)).toBe(true)
    }))

  for (
    const [name, value] of [
      ["MAX_CONNECTIONS_PER_IP", "-1"],
      ["MAX_CONNECTIONS", "many"],
      ["MAX_UPLOADS_PER_IP", "1.5"],
      ["RATE_LIMIT_BYTES_PER_PERIOD", "1e9"],
      ["IDLE_TIMEOUT", "90000"],
      ["UPLOAD_STALL_TIMEOUT", "x"],
      ["ALLOWED_ORIGINS", "example.com"],
      ["TRUST_PROXY", "10.0.0.0/40"]
    ] as const
  ) {
    it.effect(`refuses ${name}=${value} with a message naming the variable and the value`, () =>
      Effect.gen(function*() {
        const message = yield* failure([name, value])
        expect(message.startsWith(`${name}:`), message).toBe(true)
        expect(message).toContain(value)
      }))
  }

  it.effect("refuses HANDSHAKE_TIMEOUT=0: a handshake must end some time", () =>
    Effect.gen(function*() {
      expect(yield* failure(["HANDSHAKE_TIMEOUT", "0"])).toMatch(/^HANDSHAKE_TIMEOUT:/)
    }))

  it.effect("refuses a short token without quoting it", () =>
    Effect.gen(function*() {
      const message = yield* failure(["AUTH_TOKENS", "ci:tooshort"])
      expect(message).toMatch(/^AUTH_TOKENS: expected tokens of at least 16 characters/)
      expect(message).not.toContain("tooshort")
    }))
})
