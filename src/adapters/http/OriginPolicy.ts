/**
 * Which web pages may open an upload WebSocket (ALLOWED_ORIGINS), against
 * cross-site WebSocket hijacking: browsers send the page's `Origin` with
 * every handshake and let any page connect anywhere, so the server decides.
 * By default only pages served from the same host as the request (the
 * Origin's host equals the Host header) may connect. Requests without an
 * Origin come from non-browser clients, which no page can drive, and pass.
 */
import { Either } from "effect"

export type OriginPolicy =
  | { readonly _tag: "SameHost" }
  | { readonly _tag: "Any" }
  | { readonly _tag: "Listed"; readonly origins: ReadonlySet<string> }

export const sameHost: OriginPolicy = { _tag: "SameHost" }

/** `https://Example.com:443` -> `https://example.com`; undefined when `text` is not an http(s) origin. */
const normalize = (text: string): string | undefined => {
  try {
    const url = new URL(text)
    if (url.protocol !== "http:" && url.protocol !== "https:") return undefined
    if (url.pathname !== "/" || url.search !== "" || url.hash !== "" || url.username !== "") return undefined
    return url.origin
  } catch {
    return undefined
  }
}

/** Parses ALLOWED_ORIGINS: empty for the same host, `*` for any, or a comma-separated list of origins. */
export const parse = (text: string): Either.Either<OriginPolicy, string> => {
  const trimmed = text.trim()
  if (trimmed === "") return Either.right(sameHost)
  if (trimmed === "*") return Either.right({ _tag: "Any" })
  const origins = new Set<string>()
  for (const entry of trimmed.split(",")) {
    const origin = normalize(entry.trim())
    if (origin === undefined) {
      return Either.left(`"*" or a comma-separated list of origins like https://example.com,http://localhost:8000`)
    }
    origins.add(origin)
  }
  return Either.right({ _tag: "Listed", origins })
}

/** Whether a handshake with this `Origin` (if any) for this `Host` header may proceed. */
export const allows = (policy: OriginPolicy, origin: string | undefined, host: string | undefined): boolean => {
  if (origin === undefined || policy._tag === "Any") return true
  const normalized = normalize(origin)
  if (normalized === undefined) return false
  if (policy._tag === "Listed") return policy.origins.has(normalized)
  if (host === undefined) return false
  // The Host header, read as if the page's scheme served it, so default ports compare equal.
  const served = normalize(`${new URL(normalized).protocol}//${host}`)
  return served === normalized
}
