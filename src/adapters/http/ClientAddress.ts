/**
 * Who the client is: the socket's remote address, unless TRUST_PROXY names
 * the reverse proxies in front of the service, as a hop count or as a list of
 * networks (CIDR). Then the forwarding chain (RFC 7239 `Forwarded`, else
 * `X-Forwarded-For`) is walked from the right, the nearest hop first:
 * - a hop count skips that many proxies;
 * - a network list skips every hop inside a trusted network and stops at the
 *   first one outside, the first address no trusted proxy vouches against.
 * Headers are never trusted by default. IPv4-mapped IPv6 addresses
 * (`::ffff:192.0.2.1`) are read as the IPv4 address they carry.
 */
import { Either } from "effect"
import type * as http from "node:http"
import * as net from "node:net"

export type Trust =
  | { readonly _tag: "Hops"; readonly hops: number }
  | { readonly _tag: "Networks"; readonly networks: net.BlockList }

export const trustNobody: Trust = { _tag: "Hops", hops: 0 }

/** The address without IPv4 mapping, brackets or port; as given when it is not an IP address. */
export const normalize = (entry: string): string => {
  let address = entry.trim().replace(/^"(.*)"$/, "$1")
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address)
  if (bracketed) address = bracketed[1]!
  else if (/^[\d.]+:\d+$/.test(address)) address = address.slice(0, address.lastIndexOf(":"))
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return mapped[1]!
  return net.isIPv6(address) ? address.toLowerCase() : address
}

/** The `for=` addresses of an RFC 7239 `Forwarded` header, in order (`unknown` and obfuscated ones as given). */
export const forwardedFor = (header: string): ReadonlyArray<string> =>
  header.split(",").flatMap((element) => {
    const pair = element.split(";").map((p) => p.trim()).find((p) => /^for=/i.test(p))
    return pair === undefined ? [] : [normalize(pair.slice(4))]
  })

/** The proxies' record of the chain: `Forwarded` when present, else `X-Forwarded-For`. */
export const chainOf = (headers: { readonly forwarded?: string | undefined; readonly xForwardedFor?: string | undefined }) =>
  headers.forwarded !== undefined
    ? forwardedFor(headers.forwarded)
    : (headers.xForwardedFor ?? "").split(",").map((entry) => entry.trim()).filter((entry) => entry !== "").map(normalize)

/**
 * Parses TRUST_PROXY: a hop count (0 to 10) or a comma-separated list of
 * networks like `10.0.0.0/8,127.0.0.1/32,::1/128` (a bare address is one host).
 */
export const parseTrust = (text: string): Either.Either<Trust, string> => {
  const trimmed = text.trim()
  if (/^\d+$/.test(trimmed)) {
    const hops = Number(trimmed)
    return hops <= 10 ? Either.right({ _tag: "Hops", hops }) : Either.left("a hop count from 0 to 10, or a list of networks")
  }
  const networks = new net.BlockList()
  for (const entry of trimmed.split(",")) {
    const [address = "", prefix, extra] = entry.trim().split("/")
    const family = net.isIPv4(address) ? "ipv4" : net.isIPv6(address) ? "ipv6" : undefined
    const bits = prefix === undefined ? (family === "ipv4" ? 32 : 128) : /^\d+$/.test(prefix) ? Number(prefix) : NaN
    if (family === undefined || extra !== undefined || !(bits >= 0 && bits <= (family === "ipv4" ? 32 : 128))) {
      return Either.left("a hop count from 0 to 10, or a comma-separated list of networks like 10.0.0.0/8,::1/128")
    }
    networks.addSubnet(address, bits, family)
  }
  return Either.right({ _tag: "Networks", networks })
}

const trusted = (networks: net.BlockList, address: string): boolean =>
  net.isIPv4(address) ? networks.check(address, "ipv4") : net.isIPv6(address) && networks.check(address, "ipv6")

/**
 * The client address for a request from `remoteAddress` whose proxies
 * recorded `chain` (oldest first), under `trust`.
 */
export const resolve = (remoteAddress: string, chain: ReadonlyArray<string>, trust: Trust): string => {
  const hops = [...chain, normalize(remoteAddress)]
  if (trust._tag === "Hops") return hops[Math.max(0, hops.length - 1 - trust.hops)] ?? normalize(remoteAddress)
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!
    if (!trusted(trust.networks, hop)) {
      // A trusted proxy that recorded something other than an address (`unknown`) is itself the best answer.
      return net.isIP(hop) !== 0 || i === hops.length - 1 ? hop : hops[i + 1]!
    }
  }
  return hops[0]!
}

const header = (request: http.IncomingMessage, name: string): string | undefined => {
  const value = request.headers[name]
  return Array.isArray(value) ? value.join(",") : value
}

/** The client address of `request` under `trust` (its forwarding headers are read only when a proxy is trusted). */
export const ofRequest = (request: http.IncomingMessage, trust: Trust): string =>
  resolve(
    request.socket.remoteAddress ?? "unknown",
    trust._tag === "Hops" && trust.hops === 0
      ? []
      : chainOf({ forwarded: header(request, "forwarded"), xForwardedFor: header(request, "x-forwarded-for") }),
    trust
  )
