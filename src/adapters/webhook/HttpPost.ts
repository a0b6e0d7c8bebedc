/**
 * One signed JSON POST with Node's built-in fetch, for webhooks and the
 * pre-upload hook. The timeout aborts the request itself, so it holds even
 * inside an uninterruptible region.
 */
import { Data, Effect, Option, Redacted } from "effect"
import { sign, SIGNATURE_HEADER } from "./Signature.js"

export class HttpPostError extends Data.TaggedError("HttpPostError")<{
  readonly reason: "Network" | "Timeout"
  readonly cause: unknown
}> {
  override get message(): string {
    return this.reason === "Timeout"
      ? "no answer within the timeout"
      : `request failed: ${this.cause instanceof Error ? (this.cause.cause instanceof Error ? this.cause.cause.message : this.cause.message) : String(this.cause)}`
  }
}

export interface HttpAnswer {
  readonly status: number
  /** The start of the answer's body (at most `bodyLimit` bytes), as text. */
  readonly body: string
}

export interface PostOptions {
  readonly url: string
  readonly body: string
  readonly secret: Option.Option<Redacted.Redacted<string>>
  readonly timeoutMillis: number
  readonly headers?: Record<string, string>
  /** How much of the answer to read; the rest is dropped. */
  readonly bodyLimit?: number
}

const readBounded = async (response: Response, limit: number): Promise<string> => {
  if (response.body === null || limit === 0) {
    await response.body?.cancel().catch(() => undefined)
    return ""
  }
  const reader = response.body.getReader()
  const chunks: Array<Uint8Array> = []
  let total = 0
  while (total < limit) {
    const { done, value } = await reader.read()
    if (done) break
    chunks.push(value)
    total += value.length
  }
  await reader.cancel().catch(() => undefined)
  return Buffer.concat(chunks).subarray(0, limit).toString("utf8")
}

/** POSTs `body` as JSON, signed when a secret is given; the status and the start of the answer. */
export const post = (options: PostOptions): Effect.Effect<HttpAnswer, HttpPostError> =>
  Effect.flatMap(Effect.clockWith((clock) => clock.currentTimeMillis), (now) =>
    Effect.tryPromise({
      try: async () => {
        const signature = Option.match(options.secret, {
          onNone: () => ({}),
          onSome: (secret) => ({ [SIGNATURE_HEADER]: sign(Redacted.value(secret), options.body, Math.floor(now / 1000)) })
        })
        const response = await fetch(options.url, {
          method: "POST",
          headers: { "content-type": "application/json", "user-agent": "file-receiver", ...options.headers, ...signature },
          body: options.body,
          redirect: "manual",
          signal: AbortSignal.timeout(options.timeoutMillis)
        })
        return { status: response.status, body: await readBounded(response, options.bodyLimit ?? 0) }
      },
      catch: (cause) =>
        new HttpPostError({
          reason: cause instanceof Error && (cause.name === "TimeoutError" || cause.name === "AbortError") ? "Timeout" : "Network",
          cause
        })
    }))
