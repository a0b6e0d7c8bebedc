/**
 * Who the client is: the socket's remote address, unless TRUST_PROXY says
 * how many reverse proxies in front of the service may be believed; then the
 * address that the outermost trusted proxy saw, from X-Forwarded-For.
 * Headers are never trusted by default.
 */

/**
 * The client address for a request that arrived from `remoteAddress` with
 * `forwardedFor` (the X-Forwarded-For header, if any), trusting the last
 * `trustedHops` proxies.
 */
export const resolve = (remoteAddress: string, forwardedFor: string | undefined, trustedHops: number): string => {
  if (trustedHops <= 0 || forwardedFor === undefined) return remoteAddress
  const chain = [...forwardedFor.split(",").map((entry) => entry.trim()).filter((entry) => entry !== ""), remoteAddress]
  return chain[Math.max(0, chain.length - 1 - trustedHops)] ?? remoteAddress
}
