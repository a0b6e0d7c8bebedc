/**
 * The abuse-protection settings read from a map of environment variables:
 * defaults, spellings, limits that are off, tokens from AUTH_TOKENS and
 * AUTH_TOKENS_FILE, and start-up errors that name the variable and never
 * quote a token.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigError, ConfigProvider, Duration, Effect, Option, Redacted } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { AppConfig, formatConfigError, UNLIMITED } from "../../../src/adapters/config/AppConfig.js"
import * as Authentication from "../../../src/adapters/http/Authentication.js"
import * as ClientAddress from "../../../src/adapters/http/ClientAddress.js"

const read = (...entries: ReadonlyArray<readonly [string, string]>) =>
  AppConfig.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries))))

const failure = (...entries: ReadonlyArray<readonly [string, string]>) =>
  read(...entries).pipe(Effect.flip, Effect.map((error) => (ConfigError.isConfigError(error) ? formatConfigError(error) : error.message)))

/** A tokens file with `text`, removed with the test's scope. */
const tokensFile = (text: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const directory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-tokens-"))
      await fs.writeFile(path.join(directory, "tokens"), text)
      return directory
    }),
    (directory) => Effect.promise(() => fs.rm(directory, { recursive: true, force: true }))
  ).pipe(Effect.map((directory) => path.join(directory, "tokens")))

describe("security settings", () => {
  it.effect("have generous defaults: limits on, same-host origins, no authentication, headers not trusted", () =>
    Effect.gen(function*() {
      const { pacing, session, tokens, transport } = yield* read()
      expect(session.rateLimit.bytesLimit).toBe(1024 * 1024 * 1024)
      expect(session.uploadQuota).toEqual({ perClient: 100, ttl: Duration.days(1) })
      expect(transport.connectionLimits).toEqual({ perClient: 100, total: 10_000 })
      expect(Option.map(pacing, ({ invitations }) => invitations)).toEqual(Option.some(64))
      expect(session.timeouts).toEqual({ idle: Duration.seconds(600), stall: Duration.seconds(120) })
      expect(transport.handshakeTimeoutMillis).toBe(20_000)
      expect(transport.allowedOrigins).toEqual({ _tag: "SameHost" })
      expect(Option.isNone(tokens)).toBe(true)
      expect(transport.trust).toEqual(ClientAddress.trustNobody)
    }))

  it.effect("reads each variable when it is set", () =>
    Effect.gen(function*() {
      const { pacing, session, tokens, transport } = yield* read(
        ["RATE_LIMIT_BYTES_PER_PERIOD", "4096"],
        ["MAX_CONNECTIONS_PER_IP", "3"],
        ["MAX_CONNECTIONS", "50"],
        ["MAX_UPLOADS_PER_IP", "7"],
        ["MAX_CHUNKS_IN_FLIGHT", "16"],
        ["IDLE_TIMEOUT", "90"],
        ["HANDSHAKE_TIMEOUT", "5"],
        ["UPLOAD_STALL_TIMEOUT", "30"],
        ["ALLOWED_ORIGINS", "https://a.example"],
        ["AUTH_TOKENS", "ci:0123456789abcdef0123, ops:fedcba9876543210fedc"],
        ["TRUST_PROXY", "10.0.0.0/8, ::1/128"]
      )
      expect(session.rateLimit.bytesLimit).toBe(4096)
      expect(session.uploadQuota?.perClient).toBe(7)
      expect(transport.connectionLimits).toEqual({ perClient: 3, total: 50 })
      expect(Option.map(pacing, ({ invitations }) => invitations)).toEqual(Option.some(16))
      expect(session.timeouts).toEqual({ idle: Duration.seconds(90), stall: Duration.seconds(30) })
      expect(transport.handshakeTimeoutMillis).toBe(5_000)
      expect(transport.allowedOrigins).toEqual({ _tag: "Listed", origins: new Set(["https://a.example"]) })
      const list = Option.getOrThrow(tokens)
      expect(String(list)).not.toContain("0123456789abcdef")
      expect(Authentication.authenticate(Redacted.value(list), "fedcba9876543210fedc")).toEqual(Option.some("ops"))
      expect(transport.trust._tag).toBe("Networks")
    }))

  it.effect("0 turns a limit or timeout off: it is left out, not 0", () =>
    Effect.gen(function*() {
      const { pacing, session, transport } = yield* read(
        ["RATE_LIMIT_BYTES_PER_PERIOD", "0"],
        ["MAX_CONNECTIONS_PER_IP", "0"],
        ["MAX_CONNECTIONS", "0"],
        ["MAX_UPLOADS_PER_IP", "0"],
        ["MAX_CHUNKS_IN_FLIGHT", "0"],
        ["IDLE_TIMEOUT", "0"],
        ["UPLOAD_STALL_TIMEOUT", "0"]
      )
      expect("bytesLimit" in session.rateLimit).toBe(false)
      expect("uploadQuota" in session).toBe(false)
      expect(session.timeouts).toEqual({})
      expect("connectionLimits" in transport).toBe(false)
      expect(Option.isNone(pacing)).toBe(true)
      // With one connection limit off and the other on, the off one is never reached.
      expect((yield* read(["MAX_CONNECTIONS", "0"])).transport.connectionLimits).toEqual({ perClient: 100, total: UNLIMITED })
    }))

  it.effect("treats an empty AUTH_TOKENS as authentication off", () =>
    Effect.gen(function*() {
      expect(Option.isNone((yield* read(["AUTH_TOKENS", " "])).tokens)).toBe(true)
    }))

  it.scoped("merges the tokens of AUTH_TOKENS and AUTH_TOKENS_FILE into one list", () =>
    Effect.gen(function*() {
      const file = yield* tokensFile("# deploy tokens\nci:0123456789abcdef0123\n\n")
      const tokens = Redacted.value(Option.getOrThrow((yield* read(["AUTH_TOKENS", "ops:fedcba9876543210fedc"], ["AUTH_TOKENS_FILE", file])).tokens))
      expect(tokens.map(({ label }) => label)).toEqual(["ops", "ci"])
      const fromFile = Redacted.value(Option.getOrThrow((yield* read(["AUTH_TOKENS_FILE", file])).tokens))
      expect(Authentication.authenticate(fromFile, "0123456789abcdef0123")).toEqual(Option.some("ci"))
    }))

  it.scoped("refuses a tokens file it cannot read, or with a bad entry, naming AUTH_TOKENS_FILE and the file but no token", () =>
    Effect.gen(function*() {
      const missing = path.join(os.tmpdir(), "fr-no-such-tokens-file")
      expect(yield* failure(["AUTH_TOKENS_FILE", missing])).toMatch(new RegExp(`^AUTH_TOKENS_FILE: cannot read ${missing}: ENOENT`))
      const file = yield* tokensFile("ci:tooshort\n")
      const message = yield* failure(["AUTH_TOKENS_FILE", file])
      expect(message).toBe(`AUTH_TOKENS_FILE: expected tokens of at least 16 characters (entry 1 is shorter) in ${file}`)
      expect(message).not.toContain("tooshort")
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
