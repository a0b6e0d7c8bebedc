import { Either } from "effect"
import { describe, expect, it } from "vitest"
import * as ClientAddress from "../../../src/adapters/http/ClientAddress.js"

const hops = (count: number): ClientAddress.Trust => ({ _tag: "Hops", hops: count })
const xff = (header: string | undefined) => ClientAddress.chainOf({ xForwardedFor: header })
const networks = (text: string) => Either.getOrThrow(ClientAddress.parseTrust(text))

describe("ClientAddress.resolve with a hop count", () => {
  it("uses the socket address and ignores X-Forwarded-For unless proxies are trusted", () => {
    expect(ClientAddress.resolve("10.0.0.5", xff("1.2.3.4"), hops(0))).toBe("10.0.0.5")
  })

  it("with one trusted proxy, takes the address that proxy saw (the last entry)", () => {
    expect(ClientAddress.resolve("10.0.0.5", xff("6.6.6.6, 1.2.3.4"), hops(1))).toBe("1.2.3.4")
  })

  it("with two trusted proxies, skips both", () => {
    expect(ClientAddress.resolve("10.0.0.5", xff("1.2.3.4, 10.0.0.9"), hops(2))).toBe("1.2.3.4")
  })

  it("a forged chain shorter than the trusted hops yields its first entry, never nothing", () => {
    expect(ClientAddress.resolve("10.0.0.5", xff("1.2.3.4"), hops(3))).toBe("1.2.3.4")
    expect(ClientAddress.resolve("10.0.0.5", xff(undefined), hops(1))).toBe("10.0.0.5")
    expect(ClientAddress.resolve("10.0.0.5", xff(" , "), hops(1))).toBe("10.0.0.5")
  })
})

describe("ClientAddress.resolve with trusted networks", () => {
  const trust = networks("10.0.0.0/8,127.0.0.1/32,::1/128")

  it("walks from the right, skipping trusted proxies, to the first untrusted address", () => {
    expect(ClientAddress.resolve("127.0.0.1", xff("6.6.6.6, 1.2.3.4, 10.1.2.3"), trust)).toBe("1.2.3.4")
  })

  it("ignores the headers of a peer outside the trusted networks (a spoofing client)", () => {
    expect(ClientAddress.resolve("203.0.113.7", xff("1.2.3.4"), trust)).toBe("203.0.113.7")
  })

  it("a chain made only of trusted proxies yields its first entry", () => {
    expect(ClientAddress.resolve("::1", xff("10.0.0.1, 10.0.0.2"), trust)).toBe("10.0.0.1")
  })

  it("reads IPv4-mapped IPv6 addresses as IPv4, on the socket and in headers", () => {
    expect(ClientAddress.resolve("::ffff:127.0.0.1", xff("::ffff:198.51.100.4"), trust)).toBe("198.51.100.4")
    expect(ClientAddress.resolve("::ffff:127.0.0.1", [], hops(0))).toBe("127.0.0.1")
  })

  it("a trusted proxy that recorded `unknown` is taken as the client", () => {
    expect(ClientAddress.resolve("127.0.0.1", xff("unknown, 10.0.0.3"), trust)).toBe("10.0.0.3")
  })
})

describe("ClientAddress.chainOf", () => {
  it("reads RFC 7239 Forwarded, with quotes, brackets and ports, in preference to X-Forwarded-For", () => {
    const chain = ClientAddress.chainOf({
      forwarded: "for=192.0.2.60;proto=http;by=203.0.113.43, For=\"[2001:DB8:cafe::17]:4711\", for=198.51.100.9:80, proto=https",
      xForwardedFor: "6.6.6.6"
    })
    expect(chain).toEqual(["192.0.2.60", "2001:db8:cafe::17", "198.51.100.9"])
  })

  it("falls back to X-Forwarded-For", () => {
    expect(ClientAddress.chainOf({ xForwardedFor: "1.2.3.4,5.6.7.8" })).toEqual(["1.2.3.4", "5.6.7.8"])
  })
})

describe("ClientAddress.parseTrust", () => {
  it("reads a hop count or a list of networks, bare addresses as single hosts", () => {
    expect(ClientAddress.parseTrust("2")).toEqual(Either.right({ _tag: "Hops", hops: 2 }))
    const trust = networks("192.168.1.0/24, 2001:db8::/32, 172.16.0.1")
    expect(ClientAddress.resolve("192.168.1.200", xff("9.9.9.9"), trust)).toBe("9.9.9.9")
    expect(ClientAddress.resolve("2001:db8::5", xff("9.9.9.9"), trust)).toBe("9.9.9.9")
    expect(ClientAddress.resolve("172.16.0.1", xff("9.9.9.9"), trust)).toBe("9.9.9.9")
    expect(ClientAddress.resolve("172.16.0.2", xff("9.9.9.9"), trust)).toBe("172.16.0.2")
  })

  it("refuses what is neither", () => {
    for (const bad of ["11", "10.0.0.0/33", "::1/129", "example.com", "10.0.0.0/8,", "10.0.0.0/8/1", "-1"]) {
      expect(Either.isLeft(ClientAddress.parseTrust(bad)), bad).toBe(true)
    }
  })
})
