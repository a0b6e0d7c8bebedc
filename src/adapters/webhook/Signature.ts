/**
 * Request signing for webhooks and the pre-upload hook, in the style of
 * Stripe's: `X-File-Receiver-Signature: t=<unix seconds>,v1=<hex>` where the
 * hex is HMAC-SHA256(secret, "<t>.<body>"). The timestamp lets a receiver
 * refuse replays of old requests.
 */
import { createHmac, timingSafeEqual } from "node:crypto"

export const SIGNATURE_HEADER = "x-file-receiver-signature"

/** The header value for `body` sent at `unixSeconds`. */
export const sign = (secret: string, body: string, unixSeconds: number): string =>
  `t=${unixSeconds},v1=${createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex")}`

/**
 * Whether `header` is a valid signature of `body` made within `toleranceSeconds`
 * of `nowSeconds` (what a receiver checks; used by the tests).
 */
export const verify = (
  secret: string,
  body: string,
  header: string,
  nowSeconds: number,
  toleranceSeconds = 300
): boolean => {
  const parts = new Map(header.split(",").map((part) => {
    const at = part.indexOf("=")
    return [part.slice(0, at).trim(), part.slice(at + 1).trim()] as const
  }))
  const t = Number(parts.get("t"))
  const given = Buffer.from(parts.get("v1") ?? "", "hex")
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false
  const expected = createHmac("sha256", secret).update(`${t}.${body}`).digest()
  return given.length === expected.length && timingSafeEqual(given, expected)
}
