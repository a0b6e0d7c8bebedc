import { Either } from "effect"
import { describe, expect, it } from "vitest"
import * as OriginPolicy from "../../../src/adapters/http/OriginPolicy.js"

const parse = (text: string) => Either.getOrThrow(OriginPolicy.parse(text))

describe("OriginPolicy (ALLOWED_ORIGINS)", () => {
  it("by default allows only pages from the host the request was sent to", () => {
    const policy = parse("")
    expect(OriginPolicy.allows(policy, "http://files.example.com:8000", "files.example.com:8000")).toBe(true)
    expect(OriginPolicy.allows(policy, "https://FILES.example.com", "files.example.com")).toBe(true)
    expect(OriginPolicy.allows(policy, "https://files.example.com", "files.example.com:443")).toBe(true)
    expect(OriginPolicy.allows(policy, "https://evil.example", "files.example.com")).toBe(false)
    expect(OriginPolicy.allows(policy, "http://files.example.com:8001", "files.example.com:8000")).toBe(false)
    expect(OriginPolicy.allows(policy, "http://files.example.com", undefined)).toBe(false)
  })

  it("allows requests without an Origin (non-browser clients)", () => {
    expect(OriginPolicy.allows(parse(""), undefined, "h")).toBe(true)
    expect(OriginPolicy.allows(parse("https://a.example"), undefined, "h")).toBe(true)
  })

  it("refuses origins that are not http(s) origins, like the `null` of sandboxed pages", () => {
    expect(OriginPolicy.allows(parse(""), "null", "null")).toBe(false)
    expect(OriginPolicy.allows(parse("https://a.example"), "file://", "a.example")).toBe(false)
  })

  it("with a list, allows exactly the listed origins, whatever the Host", () => {
    const policy = parse("https://a.example, http://localhost:8000")
    expect(OriginPolicy.allows(policy, "https://a.example", "internal:8000")).toBe(true)
    expect(OriginPolicy.allows(policy, "https://a.example:443", "internal:8000")).toBe(true)
    expect(OriginPolicy.allows(policy, "http://localhost:8000", "localhost:8000")).toBe(true)
    expect(OriginPolicy.allows(policy, "http://a.example", "a.example")).toBe(false)
    expect(OriginPolicy.allows(policy, "http://localhost:9000", "localhost:9000")).toBe(false)
  })

  it("`*` allows every origin", () => {
    expect(OriginPolicy.allows(parse("*"), "https://anywhere.example", "h")).toBe(true)
  })

  it("refuses a list entry that is not an origin", () => {
    for (const bad of ["a.example", "https://a.example/path", "ftp://a.example", "https://a.example,", "*,https://a.example"]) {
      expect(Either.isLeft(OriginPolicy.parse(bad)), bad).toBe(true)
    }
  })
})
