import { Either, Option } from "effect"
import { describe, expect, it } from "vitest"
import * as Authentication from "../../../src/adapters/http/Authentication.js"

const tokens = Either.getOrThrow(Authentication.parseTokens([
  "alice:alice-secret-token-0001",
  "bob:bob-secret-token-000002:with-colon",
  "bare-token-without-label-03"
]))

describe("Authentication", () => {
  it("names the holder of a valid token by its label, or by its position when it has none", () => {
    expect(Authentication.authenticate(tokens, "alice-secret-token-0001")).toEqual(Option.some("alice"))
    expect(Authentication.authenticate(tokens, "bob-secret-token-000002:with-colon")).toEqual(Option.some("bob"))
    expect(Authentication.authenticate(tokens, "bare-token-without-label-03")).toEqual(Option.some("token-3"))
  })

  it("refuses a missing, empty, wrong, truncated or longer token", () => {
    for (const presented of [undefined, "", "alice-secret-token-000", "alice-secret-token-00011", "alice:alice-secret-token-0001"]) {
      expect(Authentication.authenticate(tokens, presented), String(presented)).toEqual(Option.none())
    }
  })

  it("keeps only digests, never the tokens", () => {
    expect(JSON.stringify(tokens)).not.toContain("secret")
  })

  it("refuses short tokens, duplicate labels and an empty list, without quoting a token", () => {
    const short = Authentication.parseTokens(["a:short-token"])
    expect(short).toEqual(Either.left("tokens of at least 16 characters (entry 1 is shorter)"))
    expect(Either.isLeft(Authentication.parseTokens(["a:0123456789abcdef", "a:fedcba9876543210"]))).toBe(true)
    expect(Either.isLeft(Authentication.parseTokens([]))).toBe(true)
  })

  it("reads a tokens file: one entry per line, blank lines and # comments skipped", () => {
    expect(Authentication.fileEntries("# uploaders\nalice:0123456789abcdef\r\n\n  bob:fedcba9876543210  \n")).toEqual([
      "alice:0123456789abcdef",
      "bob:fedcba9876543210"
    ])
  })

  it("takes the token from `Authorization: Bearer`, else from the `token` query parameter", () => {
    expect(Authentication.presented("Bearer abc", "/ws/file-transfer/?token=xyz")).toBe("abc")
    expect(Authentication.presented("bearer  abc ", undefined)).toBe("abc")
    expect(Authentication.presented(undefined, "/ws/file-transfer/?a=1&token=x%2By")).toBe("x+y")
    expect(Authentication.presented("Basic abc", "/ws/file-transfer/")).toBeUndefined()
  })
})
