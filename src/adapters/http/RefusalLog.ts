/**
 * Log lines for refused handshakes, so that an operator can see why a page
 * shows `WebSocket Closed: 1006` (a browser never sees the HTTP answer).
 *
 * Rate limit: at most one line per kind of refusal per window (DEFAULT_WINDOW). A
 * refusal within the window of its kind's last line is only counted; the
 * next line of that kind carries the count (`suppressed`, refusals left out
 * since the previous line), and when the server stops, `flush` logs the
 * counts still unreported. The metric counts every refusal regardless.
 *
 * What a line may say: the client's address, the Origin and the path,
 * sanitised (backslashes, control and non-ASCII characters escaped, cut to
 * MAX_LOGGED_LENGTH characters). Never a query string or an Authorization
 * header: either may carry a token.
 */
import { Clock, Duration, Effect, HashMap, LogLevel, Option, Ref } from "effect"

export type RefusalKind = "path" | "origin" | "missing token" | "invalid token"

/** What a refused handshake's line says besides its kind; values are logged sanitised. */
export interface RefusalDetails {
  readonly client: string
  readonly origin?: string | undefined
  /** The request path without its query string (only for `path` refusals). */
  readonly path?: string | undefined
}

export const DEFAULT_WINDOW = Duration.seconds(10)

/** Longest value a line quotes from a request; longer ones are cut and end in `...`. */
export const MAX_LOGGED_LENGTH = 200

const lines: Record<RefusalKind, { readonly message: string; readonly level: LogLevel.LogLevel }> = {
  path: { message: "handshake refused: not the upload path", level: LogLevel.Info },
  origin: { message: "handshake refused: origin not allowed", level: LogLevel.Warning },
  "missing token": { message: "handshake refused: no token", level: LogLevel.Warning },
  "invalid token": { message: "handshake refused: invalid token", level: LogLevel.Warning }
}

/** `text` safe to put in a log line: printable ASCII as is, everything else escaped, at most `max` characters. */
export const sanitise = (text: string, max: number = MAX_LOGGED_LENGTH): string => {
  let safe = ""
  for (const char of text) {
    const code = char.codePointAt(0)!
    const piece = char === "\\"
      ? "\\\\"
      : code >= 0x20 && code < 0x7f
      ? char
      : code <= 0xff
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u{${code.toString(16)}}`
    if (safe.length + piece.length > max - 3) return `${safe}...`
    safe += piece
  }
  return safe
}

/** Per kind: when its last line was logged, and how many refusals were left out since. */
export type Throttle = HashMap.HashMap<RefusalKind, { readonly loggedAt: number; readonly suppressed: number }>

/**
 * Whether a refusal of `kind` at `now` gets a line: Some(how many were left
 * out before it) or None (counted, not logged); and the next state.
 */
export const admit = (throttle: Throttle, kind: RefusalKind, now: number, windowMillis: number): [Option.Option<number>, Throttle] =>
  Option.match(HashMap.get(throttle, kind), {
    onNone: () => [Option.some(0), HashMap.set(throttle, kind, { loggedAt: now, suppressed: 0 })],
    onSome: ({ loggedAt, suppressed }) =>
      now - loggedAt >= windowMillis
        ? [Option.some(suppressed), HashMap.set(throttle, kind, { loggedAt: now, suppressed: 0 })]
        : [Option.none(), HashMap.set(throttle, kind, { loggedAt, suppressed: suppressed + 1 })]
  })

export interface RefusalLog {
  /** Logs a refused handshake, unless its kind already had a line within the window. */
  readonly refused: (kind: RefusalKind, details: RefusalDetails) => Effect.Effect<void>
  /** Logs, per kind, the refusals left out since its last line (for when the server stops). */
  readonly flush: Effect.Effect<void>
}

/** A refusal log with a throttle of its own. */
export const make = (window: Duration.Duration = DEFAULT_WINDOW): Effect.Effect<RefusalLog> =>
  Effect.map(Ref.make<Throttle>(HashMap.empty()), (throttle) => ({
    refused: (kind, details) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => Ref.modify(throttle, (state) => admit(state, kind, now, Duration.toMillis(window)))).pipe(
        Effect.flatMap(Option.match({
          onNone: () => Effect.void,
          onSome: (suppressed) =>
            Effect.logWithLevel(lines[kind].level, lines[kind].message).pipe(
              Effect.annotateLogs({
                client: sanitise(details.client),
                ...(details.origin === undefined ? {} : { origin: sanitise(details.origin) }),
                ...(details.path === undefined ? {} : { path: sanitise(details.path) }),
                ...(suppressed === 0 ? {} : { suppressed })
              })
            )
        }))
      ),
    flush: Effect.flatMap(Ref.getAndSet(throttle, HashMap.empty()), (state) =>
      Effect.forEach(
        Array.from(state).filter(([, { suppressed }]) => suppressed > 0),
        ([kind, { suppressed }]) =>
          Effect.logWithLevel(lines[kind].level, "handshake refusals left out of the log since its last line").pipe(
            Effect.annotateLogs({ kind, suppressed })
          ),
        { discard: true }
      ))
  }))
