/**
 * What a refused WebSocket handshake means. Node's `ws` reports the HTTP
 * status; a status no retry heals (401, 403, 404, another 4xx) ends the
 * upload at once with a HandshakeRefusedError that says what to change, and
 * the rest (503, a proxy's 502, no answer at all) is retried.
 *
 * Browsers hide the status: a refused handshake and a server that is down
 * both look like a close with code 1006 before `open`. There `diagnose` asks
 * the server's `/config.json` (same host and path prefix): no answer means
 * the server is down (retry); `auth_required` without a token is the 401; a
 * path that is not its `upload_path` is the 404; a server that answers but
 * refused the handshake twice in a row is taken for the 403.
 */
import { UPLOAD_PATH } from "../domain/UploadPath.js"
import { HandshakeRefusedError } from "./Errors.js"

const CONFIG_TIMEOUT_MS = 5000

/** The error for a status no retry heals, or undefined for one worth retrying. */
export const refusal = (status: number, tokenGiven: boolean, uploadPath = UPLOAD_PATH): HandshakeRefusedError | undefined => {
  const said = (advice: string) => new HandshakeRefusedError(status, `The server refused the connection (HTTP ${status}): ${advice}`)
  switch (status) {
    case 401:
      return said(tokenGiven ? "the token was not accepted: check --token (options.token)" : "the server wants a token: pass --token (options.token)")
    case 403:
      return said("this page's origin (or the client's Origin header) is not allowed: the server's ALLOWED_ORIGINS must list it")
    case 404:
      return said(`the path is wrong: the upload endpoint is ${uploadPath}`)
  }
  // 408 and 429 pass with time; 5xx are the server's or a proxy's trouble.
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return said("check the URL and the server's settings")
  return undefined
}

export type Diagnosis =
  /** /config.json did not answer either: the server is down or unreachable; retry. */
  | { readonly _tag: "down" }
  /** The server answers but nothing explains the refusal yet: retry once before reading it as the 403. */
  | { readonly _tag: "unclear" }
  | { readonly _tag: "refused"; readonly error: HandshakeRefusedError }

type Fetch = (url: string, init: { readonly signal: AbortSignal }) => Promise<{ readonly ok: boolean; json(): Promise<unknown> }>

/**
 * Why a handshake to `wsUrl` failed before `open`, when the WebSocket gives no status.
 * `refusedBefore`: the previous handshake failed too while `/config.json` answered.
 */
export const diagnose = async (
  wsUrl: string,
  options: {
    readonly tokenGiven: boolean
    readonly refusedBefore: boolean
    readonly fetch?: Fetch | undefined
    readonly signal?: AbortSignal | undefined
  }
): Promise<Diagnosis> => {
  const fetch = options.fetch ?? (globalThis as { fetch?: Fetch }).fetch
  if (fetch === undefined) return { _tag: "down" }
  const url = new URL(wsUrl)
  const path = url.pathname
  // Behind a proxy that serves the app under a prefix, /config.json is under that prefix too.
  const trimmed = (text: string) => text.replace(/\/+$/, "")
  const prefix = trimmed(path).endsWith(trimmed(UPLOAD_PATH)) ? trimmed(path).slice(0, -trimmed(UPLOAD_PATH).length) : ""
  const configUrl = new URL(`${prefix}/config.json`, `${url.protocol === "wss:" ? "https:" : "http:"}//${url.host}`)
  // Not AbortSignal.any: the page supports browsers from before it.
  const controller = new AbortController()
  const abort = () => controller.abort()
  const timer = setTimeout(abort, CONFIG_TIMEOUT_MS)
  options.signal?.addEventListener("abort", abort)
  let config: Record<string, unknown>
  try {
    const response = await fetch(configUrl.toString(), { signal: controller.signal })
    const body: unknown = response.ok ? await response.json() : undefined
    if (typeof body !== "object" || body === null) return { _tag: "down" }
    config = body as Record<string, unknown>
  } catch {
    return { _tag: "down" }
  } finally {
    clearTimeout(timer)
    options.signal?.removeEventListener("abort", abort)
  }
  if (config["auth_required"] === true && !options.tokenGiven) return { _tag: "refused", error: refusal(401, false)! }
  const uploadPath = typeof config["upload_path"] === "string" ? config["upload_path"] : undefined
  if (uploadPath !== undefined && trimmed(path) !== trimmed(`${prefix}${uploadPath}`)) {
    return { _tag: "refused", error: refusal(404, options.tokenGiven, uploadPath)! }
  }
  if (!options.refusedBefore) return { _tag: "unclear" }
  if (config["auth_required"] === true) {
    // A token was given: it may be the one refused, or the Origin; the status cannot tell them apart here.
    return {
      _tag: "refused",
      error: new HandshakeRefusedError(
        403,
        "The server refused the connection: the token (options.token) was not accepted, or this page's origin is not allowed " +
          "(the server's ALLOWED_ORIGINS must list it)"
      )
    }
  }
  return { _tag: "refused", error: refusal(403, options.tokenGiven)! }
}
