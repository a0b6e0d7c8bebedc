/**
 * The events and hook settings read from a map of environment variables:
 * defaults, values, and start-up errors naming the variable. Every variable
 * is documented in the README's configuration table.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigError, ConfigProvider, Duration, Effect, Option, Redacted } from "effect"
import * as fs from "node:fs"
import { AppConfig, formatConfigError } from "../../../src/adapters/config/AppConfig.js"

const read = (...entries: ReadonlyArray<readonly [string, string]>) =>
  Effect.map(AppConfig, (config) => config.events).pipe(Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries))))
const failure = (...entries: ReadonlyArray<readonly [string, string]>) =>
  read(...entries).pipe(Effect.flip, Effect.map((error) => (ConfigError.isConfigError(error) ? formatConfigError(error) : error.message)))

const VARIABLES = [
  "WEBHOOK_URL",
  "WEBHOOK_SECRET",
  "WEBHOOK_MAX_ATTEMPTS",
  "WEBHOOK_TIMEOUT",
  "WEBHOOK_RETRY_BASE_MS",
  "WEBHOOK_QUEUE_SIZE",
  "EVENTS_STREAM",
  "EVENTS_STREAM_MAXLEN",
  "PRE_UPLOAD_HOOK_URL",
  "PRE_UPLOAD_HOOK_TIMEOUT",
  "PRE_UPLOAD_HOOK_FAIL_OPEN"
]

describe("EventsConfig", () => {
  it.effect("by default: no webhook, no stream, no hook (events are only logged)", () =>
    Effect.gen(function*() {
      const events = yield* read()
      expect(Option.isNone(events.webhook)).toBe(true)
      expect(Option.isNone(events.stream)).toBe(true)
      expect(Option.isNone(events.preUploadHook)).toBe(true)
    }))

  it.effect("reads the webhook, the stream and the hook with their defaults", () =>
    Effect.gen(function*() {
      const events = yield* read(
        ["WEBHOOK_URL", "https://app.example/hooks/uploads"],
        ["WEBHOOK_SECRET", "s3cret"],
        ["REDIS_URL", "redis://127.0.0.1:6379"],
        ["EVENTS_STREAM", "uploads"],
        ["PRE_UPLOAD_HOOK_URL", "http://policy.internal/check"]
      )
      const webhook = Option.getOrThrow(events.webhook)
      expect({ ...webhook.settings, secret: Redacted.value(webhook.settings.secret) }).toEqual({
        url: "https://app.example/hooks/uploads",
        secret: "s3cret",
        maxAttempts: 10,
        timeout: Duration.seconds(10),
        backoffBase: Duration.millis(1000),
        queueSize: 1000
      })
      // With REDIS_URL, deliveries wait in Redis, on the connection the configuration describes.
      expect(webhook.deliveries._tag).toBe("redis")
      const stream = Option.getOrThrow(events.stream)
      expect(stream.settings).toEqual({ stream: "uploads", maxLength: 10_000 })
      expect(Redacted.value(stream.redis.url)).toBe("redis://127.0.0.1:6379")
      const hook = Option.getOrThrow(events.preUploadHook)
      expect(hook.url).toBe("http://policy.internal/check")
      expect(hook.timeout).toEqual(Duration.seconds(5))
      expect(hook.failOpen).toBe(false)
      expect(Option.map(hook.secret, Redacted.value)).toEqual(Option.some("s3cret"))
    }))

  it.effect("keeps webhook deliveries in a journal in the save directory without Redis", () =>
    Effect.gen(function*() {
      const events = yield* read(["WEBHOOK_URL", "https://app.example/"], ["WEBHOOK_SECRET", "s"], ["FILE_SAVE_DIRECTORY", "/srv/files"])
      expect(Option.map(events.webhook, ({ deliveries }) => deliveries)).toEqual(Option.some({ _tag: "journal", directory: "/srv/files" }))
    }))

  it.effect("treats empty URLs as unset", () =>
    Effect.gen(function*() {
      const events = yield* read(["WEBHOOK_URL", ""], ["PRE_UPLOAD_HOOK_URL", " "], ["EVENTS_STREAM", ""])
      expect(Option.isNone(events.webhook) && Option.isNone(events.preUploadHook) && Option.isNone(events.stream)).toBe(true)
    }))

  it.effect("refuses bad values with a message naming the variable", () =>
    Effect.gen(function*() {
      expect(yield* failure(["WEBHOOK_URL", "ftp://x"], ["WEBHOOK_SECRET", "s"])).toContain("WEBHOOK_URL: expected an http:// or https:// URL")
      expect(yield* failure(["WEBHOOK_URL", "http://x"])).toContain("WEBHOOK_SECRET")
      expect(yield* failure(["EVENTS_STREAM", "uploads"])).toContain("EVENTS_STREAM: expected REDIS_URL")
      expect(yield* failure(["WEBHOOK_MAX_ATTEMPTS", "0"])).toContain("WEBHOOK_MAX_ATTEMPTS")
      expect(yield* failure(["PRE_UPLOAD_HOOK_FAIL_OPEN", "maybe"])).toContain("PRE_UPLOAD_HOOK_FAIL_OPEN")
      expect(yield* failure(["PRE_UPLOAD_HOOK_TIMEOUT", "1.5"])).toContain("PRE_UPLOAD_HOOK_TIMEOUT")
    }))

  it("every variable is in the README's configuration table", () => {
    const readme = fs.readFileSync(new URL("../../../README.md", import.meta.url), "utf8")
    for (const name of VARIABLES) expect(readme).toContain(`| \`${name}\` |`)
  })
})
