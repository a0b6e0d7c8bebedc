/**
 * The HTTP pre-upload hook against a real HTTP server: what it sends, how
 * an answer becomes a verdict, and the refusal text it passes to the client.
 */
import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option, Redacted } from "effect"
import { DEFAULT_REFUSAL, HOOK_UNAVAILABLE, HookVerdict } from "../../../src/application/ports/PreUploadHook.js"
import * as HttpPreUploadHook from "../../../src/adapters/webhook/HttpPreUploadHook.js"
import { SIGNATURE_HEADER, verify } from "../../../src/adapters/webhook/Signature.js"
import type { Answer } from "../../support/receiver.js"
import { receiver } from "../../support/webhook.js"

const request = { fileName: "a.txt", size: 3, clientAddress: "192.0.2.9", identity: "bob" }

const verdictFor = (answer: Answer, settings: Partial<HttpPreUploadHook.HookSettings> = {}) =>
  Effect.gen(function*() {
    const r = yield* receiver(() => answer)
    const hook = HttpPreUploadHook.make({ url: r.url, secret: Option.none(), timeout: Duration.millis(2_000), failOpen: false, ...settings })
    return { verdict: yield* hook.check(request), requests: r.requests }
  })

describe("HttpPreUploadHook", () => {
  it("takes the reason from JSON or text, removes control characters, bounds its length", () => {
    expect(HttpPreUploadHook.reasonFrom(JSON.stringify({ reason: "Quota\u0000 exceeded\r\n\tfor bob" }))).toBe("Quota exceeded for bob")
    expect(HttpPreUploadHook.reasonFrom(JSON.stringify({ message: "Not today" }))).toBe("Not today")
    expect(HttpPreUploadHook.reasonFrom("plain text reason\u001b[31m")).toBe("plain text reason [31m")
    expect(HttpPreUploadHook.reasonFrom("")).toBe(DEFAULT_REFUSAL)
    expect(HttpPreUploadHook.reasonFrom(JSON.stringify({ allowed: false }))).toBe(DEFAULT_REFUSAL)
    expect(HttpPreUploadHook.reasonFrom("x".repeat(5000))).toHaveLength(HttpPreUploadHook.MAX_REASON_LENGTH)
  })

  it.scopedLive("a 2xx answer allows; the request carries the upload's meta and the identity, signed with the secret", () =>
    Effect.gen(function*() {
      const { requests, verdict } = yield* verdictFor({ status: 200 }, { secret: Option.some(Redacted.make("s3cret")) })
      expect(verdict).toEqual(HookVerdict.Allowed())
      expect(JSON.parse(requests[0]!.body)).toEqual({
        type: "upload.requested",
        file_name: "a.txt",
        file_size: 3,
        client_address: "192.0.2.9",
        identity: "bob"
      })
      expect(verify("s3cret", requests[0]!.body, String(requests[0]!.headers[SIGNATURE_HEADER]), Math.floor(Date.now() / 1000))).toBe(true)
    }))

  it.scopedLive("any other answer refuses, with the hook's reason", () =>
    Effect.gen(function*() {
      expect((yield* verdictFor({ status: 403, body: "{\"reason\":\"Too big for your plan\"}" })).verdict).toEqual(
        HookVerdict.Refused({ reason: "Too big for your plan" })
      )
      expect((yield* verdictFor({ status: 500 })).verdict).toEqual(HookVerdict.Refused({ reason: DEFAULT_REFUSAL }))
      expect((yield* verdictFor({ status: 302 })).verdict).toEqual(HookVerdict.Refused({ reason: DEFAULT_REFUSAL }))
    }))

  it.scopedLive("no answer in time refuses (fail closed) unless failOpen is set", () =>
    Effect.gen(function*() {
      expect((yield* verdictFor({ status: 200, delayMillis: 6_000 })).verdict).toEqual(HookVerdict.Refused({ reason: HOOK_UNAVAILABLE }))
      expect((yield* verdictFor({ status: 200, delayMillis: 6_000 }, { failOpen: true })).verdict).toEqual(HookVerdict.Allowed())
    }))

  it.effect("an unreachable hook refuses", () =>
    Effect.gen(function*() {
      const hook = HttpPreUploadHook.make({ url: "http://127.0.0.1:1/hook", secret: Option.none(), timeout: Duration.seconds(2), failOpen: false })
      expect(yield* hook.check(request)).toEqual(HookVerdict.Refused({ reason: HOOK_UNAVAILABLE }))
    }))
})
