/**
 * Staying under the rate limit a server announces in `meta_received`
 * (`rate_limit: { messages, period_seconds, bytes? }`), so that a large file
 * is slowed down rather than refused. The server counts every message a client
 * address sends, over all its connections, in a fixed window that opens at
 * the first one; the client cannot see where that window starts, so it keeps
 * the stricter rule that holds for any start: no more than the budget in any
 * span of one period (plus a margin for the time frames take to arrive).
 * The budget is 95% of the limit, for messages the client does not know of
 * (another tab, another process on the same address).
 *
 * One pacer per server (host and port) for the whole process: the CLI's files
 * and the page's uploads share it, as the server's count does. A refusal
 * (`rate_limited` with `retry_after`) stops every upload to that server until
 * the server's window has passed.
 */
import type { Reply } from "./Socket.js"
import { sleep } from "./Retry.js"

export interface RateLimit {
  readonly messages: number
  readonly periodMs: number
  /** Frame bytes per period; undefined when the server does not limit bytes. */
  readonly bytes: number | undefined
}

export interface Pacer {
  /** The limits the server announced last (undefined until one did). */
  readonly limit: () => RateLimit | undefined
  readonly announce: (limit: RateLimit) => void
  /** Milliseconds to wait before a message of `bytes` fits under the limit at `now`; 0: it may go now. */
  readonly delayFor: (bytes: number, now: number) => number
  /** A message of `bytes` went out at `now` (every message is recorded, paced or not). */
  readonly sent: (bytes: number, now: number) => void
  /** The server refused until `until`: nothing is sent before then, and its window starts afresh after. */
  readonly refusedUntil: (until: number) => void
}

const BUDGET = 0.95
/** The server's default period (RATE_LIMIT_PERIOD). */
const UNANNOUNCED_PERIOD_MS = 60_000
/** Added to each period: a frame's delay on the way may move it into the server's next window or back. */
const marginMs = (periodMs: number) => Math.max(250, periodMs * 0.02)

/** The `rate_limit` a meta_received announces, when it carries a usable one. */
export const rateLimitOf = (reply: Reply): RateLimit | undefined => {
  const announced = reply["rate_limit"]
  if (typeof announced !== "object" || announced === null) return undefined
  const { messages, period_seconds: period, bytes } = announced as Record<string, unknown>
  const positive = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value) && value > 0
  if (!positive(messages) || !positive(period)) return undefined
  return { messages, periodMs: period * 1000, bytes: positive(bytes) ? bytes : undefined }
}

/** The most message bytes that fit in one period's budget (Infinity when bytes are not limited). */
export const byteBudget = (limit: RateLimit | undefined): number =>
  limit?.bytes === undefined ? Infinity : Math.max(1, Math.floor(limit.bytes * BUDGET))

export const makePacer = (): Pacer => {
  let limit: RateLimit | undefined
  let log: Array<{ readonly at: number; readonly bytes: number }> = [] // oldest first, within one span
  let blockedUntil = 0

  // Before an announcement, what was sent is kept for as long as the default limit's period would count it.
  const span = () => {
    const periodMs = limit?.periodMs ?? UNANNOUNCED_PERIOD_MS
    return periodMs + marginMs(periodMs)
  }
  const prune = (now: number) => {
    const from = now - span()
    let drop = 0
    while (drop < log.length && log[drop]!.at <= from) drop++
    if (drop > 0) log = log.slice(drop)
  }

  const delayFor = (bytes: number, now: number): number => {
    if (now < blockedUntil) return blockedUntil - now
    if (limit === undefined) return 0
    prune(now)
    const messages = Math.max(1, Math.floor(limit.messages * BUDGET))
    // The oldest entry that must leave the span before this message fits: by count, then by bytes.
    let mustLeave = log.length - messages // entries [0, mustLeave] must go
    const budget = byteBudget(limit)
    if (budget !== Infinity) {
      let held = bytes
      for (const entry of log) held += entry.bytes
      // A message larger than the whole budget goes alone, once the span is empty.
      let k = -1
      while (held > budget && k < log.length - 1) held -= log[++k]!.bytes
      mustLeave = Math.max(mustLeave, k)
    }
    if (mustLeave < 0) return 0
    return Math.max(1, log[mustLeave]!.at + span() - now)
  }

  return {
    limit: () => limit,
    announce: (announced) => void (limit = announced),
    delayFor,
    sent: (bytes, now) => {
      prune(now)
      log.push({ at: now, bytes })
    },
    refusedUntil: (until) => {
      blockedUntil = Math.max(blockedUntil, until)
      // Everything sent so far fell in windows that end by then.
      log = []
    }
  }
}

const pacers = new Map<string, Pacer>()

/** The process-wide pacer for the server at `url` (by host and port: the server counts per client address). */
export const pacerFor = (url: string): Pacer => {
  const key = new URL(url).host
  let pacer = pacers.get(key)
  if (pacer === undefined) pacers.set(key, (pacer = makePacer()))
  return pacer
}

/**
 * Waits until a message of `bytes` fits, then records it as sent: call it right before sending.
 * `onWait` hears of each wait; rejects with UploadCancelledError when `signal` aborts.
 */
export const takeTurn = async (
  pacer: Pacer,
  bytes: number,
  signal: AbortSignal | undefined,
  onWait: (delayMs: number) => void
): Promise<void> => {
  for (let delay = pacer.delayFor(bytes, Date.now()); delay > 0; delay = pacer.delayFor(bytes, Date.now())) {
    onWait(delay)
    await sleep(delay, signal)
  }
  pacer.sent(bytes, Date.now())
}

/** The bytes a frame counts for: its length, in UTF-8 for text. */
export const frameBytes = (data: string | Uint8Array): number => {
  if (typeof data !== "string") return data.length
  let bytes = 0
  for (let i = 0; i < data.length; i++) {
    const unit = data.charCodeAt(i)
    bytes += unit < 0x80 ? 1 : unit < 0x800 ? 2 : unit >= 0xd800 && unit < 0xdc00 ? (i++, 4) : 3
  }
  return bytes
}
