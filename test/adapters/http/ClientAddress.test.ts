import { describe, expect, it } from "vitest"
import * as ClientAddress from "../../../src/adapters/http/ClientAddress.js"

describe("ClientAddress.resolve", () => {
  it("uses the socket address and ignores X-Forwarded-For unless proxies are trusted", () => {
    expect(ClientAddress.resolve("10.0.0.5", "1.2.3.4", 0)).toBe("10.0.0.5")
  })

  it("with one trusted proxy, takes the address that proxy saw (the last entry)", () => {
    expect(ClientAddress.resolve("10.0.0.5", "6.6.6.6, 1.2.3.4", 1)).toBe("1.2.3.4")
  })

  it("with two trusted proxies, skips both", () => {
    expect(ClientAddress.resolve("10.0.0.5", "1.2.3.4, 10.0.0.9", 2)).toBe("1.2.3.4")
  })

  it("a forged chain shorter than the trusted hops yields its first entry, never nothing", () => {
    expect(ClientAddress.resolve("10.0.0.5", "1.2.3.4", 3)).toBe("1.2.3.4")
    expect(ClientAddress.resolve("10.0.0.5", undefined, 1)).toBe("10.0.0.5")
    expect(ClientAddress.resolve("10.0.0.5", " , ", 1)).toBe("10.0.0.5")
  })
})
