/**
 * Infrastructure, not an idiom to copy: a log line with annotations of its
 * own, for the lines every upload logs (the session's, through
 * `SessionContext.sessionLog`, and the log event sink's). New code uses
 * `Effect.logInfo(...).pipe(Effect.annotateLogs(...))`; use this only where
 * a profile or `npm run bench:steps` shows the lines matter (see
 * docs/performance.md).
 *
 * `Effect.annotateLogs` runs the line inside `Effect.locally`: an acquire
 * and a release around it, and two copies of the fiber's FiberRefs. This
 * makes the line in one step. It hands the fiber's loggers what `Effect.log*`
 * would: the fiber's annotations with the line's added (the line's value
 * wins), the fiber's minimum level, spans, clock and redaction context. The
 * fiber's annotations stay as they were, and a line below the minimum level
 * costs nothing else.
 *
 * Differences to keep in mind: the `context` the loggers get is the fiber's
 * FiberRefs as they are, so a logger that read annotations from it, rather
 * than from `annotations`, would not see the line's (none here does); and a
 * line is one string, without a Cause.
 */
import { Cause, Clock, Context, Effect, FiberRef, HashMap, Inspectable, LogLevel } from "effect"
import type { HashSet, Logger } from "effect"

/** The annotations of one line. */
export type Fields = Readonly<Record<string, unknown>>

/**
 * The fiber's loggers as an array, kept for each set of loggers: the set is
 * the same object from line to line (it changes only when a layer replaces a
 * logger), and iterating a HashSet allocates at every line.
 */
const loggerArrays = new WeakMap<HashSet.HashSet<Logger.Logger<unknown, unknown>>, ReadonlyArray<Logger.Logger<unknown, unknown>>>()
const loggersOf = (loggers: HashSet.HashSet<Logger.Logger<unknown, unknown>>): ReadonlyArray<Logger.Logger<unknown, unknown>> => {
  let array = loggerArrays.get(loggers)
  if (array === undefined) {
    array = Array.from(loggers)
    loggerArrays.set(loggers, array)
  }
  return array
}

/** The fiber's annotations with the line's added (the line's win), in one mutable copy rather than one per field. */
const annotated = (annotations: HashMap.HashMap<string, unknown>, fields: Fields): HashMap.HashMap<string, unknown> => {
  let merged: HashMap.HashMap<string, unknown> | undefined
  for (const key of Object.keys(fields)) {
    merged ??= HashMap.beginMutation(annotations)
    HashMap.set(merged, key, fields[key])
  }
  return merged === undefined ? annotations : HashMap.endMutation(merged)
}

/** Logs `message` at `level`, annotated with the fiber's annotations and `fields`. */
export const log = (level: LogLevel.LogLevel, message: string, fields: Fields = {}): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    if (LogLevel.greaterThan(fiber.getFiberRef(FiberRef.currentMinimumLogLevel), level)) return Effect.void
    const loggers = loggersOf(fiber.getFiberRef(FiberRef.currentLoggers))
    if (loggers.length === 0) return Effect.void
    const annotations = annotated(fiber.getFiberRef(FiberRef.currentLogAnnotations), fields)
    const context = fiber.getFiberRefs()
    const options = {
      fiberId: fiber.id(),
      logLevel: level,
      // An array, as Effect.log* passes its arguments.
      message: [message],
      cause: Cause.empty,
      context,
      spans: fiber.getFiberRef(FiberRef.currentLogSpan),
      annotations,
      date: new Date(Context.get(fiber.currentDefaultServices, Clock.Clock).unsafeCurrentTimeMillis())
    }
    Inspectable.withRedactableContext(context, () => {
      for (let i = 0; i < loggers.length; i++) loggers[i]!.log(options)
    })
    return Effect.void
  })

/** {@link log} at info level. */
export const info = (message: string, fields?: Fields): Effect.Effect<void> => log(LogLevel.Info, message, fields)
