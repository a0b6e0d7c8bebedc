import { describe, expect, it } from "@effect/vitest"
import { Effect, type Exit, type Fiber, HashMap, List, Logger, LogLevel, Redacted, RuntimeFlags, RuntimeFlagsPatch, Supervisor, TestClock } from "effect"
import * as LogLines from "../../../src/application/infrastructure/LogLines.js"

interface Seen {
  readonly level: string
  readonly message: unknown
  readonly annotations: Record<string, unknown>
  readonly spans: ReadonlyArray<string>
  readonly date: number
  readonly fiber: string
  readonly line: string
}

/** Keeps what each logger call received, and the logfmt line Effect's own logger makes of it. */
const recording = (seen: Array<Seen>) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make((options) => {
      seen.push({
        level: options.logLevel.label,
        message: options.message,
        annotations: Object.fromEntries(HashMap.toEntries(options.annotations)),
        spans: List.toArray(options.spans).map((span) => span.label),
        date: options.date.getTime(),
        fiber: String(options.fiberId),
        // Without the timestamp: the two lines are made at the same TestClock time anyway.
        line: Logger.logfmtLogger.log(options).replace(/^timestamp=\S+ /, "")
      })
    })
  )

/** Counts the steps Effect's run loop takes for the effects it supervises. */
class StepCounter extends Supervisor.AbstractSupervisor<void> {
  steps = 0
  get value() {
    return Effect.void
  }
  override onStart() {}
  override onEnd<A, E>(_value: Exit.Exit<A, E>, _fiber: Fiber.RuntimeFiber<A, E>) {}
  override onEffect() {
    this.steps++
  }
}

const fields = { upload: "5f1c0e2a9b3d4c7e", file: "report.pdf", size: 16384, secret: Redacted.make("token") }

/** The same line, made by Effect's annotateLogs and by LogLines, inside the same annotations and span. */
const both = (seen: Array<Seen>) =>
  Effect.gen(function*() {
    yield* TestClock.adjust("1234 millis")
    yield* Effect.logInfo("upload started").pipe(Effect.annotateLogs(fields))
    yield* LogLines.info("upload started", fields)
  }).pipe(
    Effect.withLogSpan("connection"),
    Effect.annotateLogs({ client: "192.0.2.7", upload: "overridden by the line" }),
    Effect.provide(recording(seen))
  )

describe("LogLines", () => {
  it.effect("makes the line Effect.annotateLogs makes: level, message, annotations (the line's win), spans, clock, redaction", () =>
    Effect.gen(function*() {
      const seen: Array<Seen> = []
      yield* both(seen)
      expect(seen).toHaveLength(2)
      const [effects, ours] = seen
      expect(ours).toEqual(effects)
      expect(ours!.annotations["upload"]).toBe("5f1c0e2a9b3d4c7e")
      expect(ours!.annotations["client"]).toBe("192.0.2.7")
      expect(ours!.date).toBe(1234)
      expect(ours!.spans).toEqual(["connection"])
      expect(ours!.line).toContain("<redacted>")
      expect(ours!.line).not.toContain("token")
      expect(ours!.line).toContain('message="upload started"')
    }))

  it.effect("leaves the fiber's annotations as they were", () =>
    Effect.gen(function*() {
      yield* LogLines.info("upload started", { upload: "a" })
      const after = yield* Effect.logAnnotations
      expect(Object.fromEntries(HashMap.toEntries(after))).toEqual({ client: "192.0.2.7" })
    }).pipe(Effect.annotateLogs({ client: "192.0.2.7" }), Effect.provide(recording([])))
  )

  it.effect("logs nothing below the minimum level, and at or above it logs at the level given", () =>
    Effect.gen(function*() {
      const seen: Array<Seen> = []
      yield* Effect.gen(function*() {
        yield* LogLines.log(LogLevel.Debug, "connection idle; closing")
        yield* LogLines.log(LogLevel.Info, "upload started")
        yield* LogLines.log(LogLevel.Warning, "upload refused", { reason: "content_mismatch" })
      }).pipe(Logger.withMinimumLogLevel(LogLevel.Info), Effect.provide(recording(seen)))
      expect(seen.map((line) => line.level)).toEqual(["INFO", "WARN"])
    }))

  it.effect("takes a few steps of the run loop where Effect.annotateLogs takes many (why it exists)", () =>
    Effect.gen(function*() {
      const count = (line: Effect.Effect<void>) =>
        Effect.gen(function*() {
          const counter = new StepCounter()
          yield* line.pipe(Effect.supervised(counter), Effect.withRuntimeFlagsPatch(RuntimeFlagsPatch.enable(RuntimeFlags.OpSupervision)))
          return counter.steps
        })
      // What supervising itself takes, counted in both.
      const around = yield* count(Effect.void)
      const annotated = (yield* count(Effect.logInfo("upload started").pipe(Effect.annotateLogs(fields)))) - around
      const ours = (yield* count(LogLines.info("upload started", fields))) - around
      expect(ours).toBeLessThanOrEqual(2)
      expect(annotated).toBeGreaterThanOrEqual(5 * ours)
    }).pipe(Effect.provide(recording([]))))

  it.effect("follows the fiber's loggers when they change between two lines (it keeps an array per set of loggers)", () =>
    Effect.gen(function*() {
      const first: Array<Seen> = []
      const second: Array<Seen> = []
      yield* LogLines.info("upload started", { upload: "a" }).pipe(Effect.provide(recording(first)))
      yield* LogLines.info("upload completed", { upload: "a" }).pipe(Effect.provide(recording(second)))
      yield* LogLines.info("upload started", { upload: "b" }).pipe(Effect.provide(recording(first)))
      // A logger added beside the replaced default one: the fiber's set of loggers changes again.
      const added: Array<unknown> = []
      yield* LogLines.info("upload resumed", { upload: "c" }).pipe(
        Effect.provide(Logger.add(Logger.make((options) => void added.push(options.message)))),
        Effect.provide(recording(second))
      )
      expect(first.map((line) => line.message)).toEqual([["upload started"], ["upload started"]])
      expect(second.map((line) => line.message)).toEqual([["upload completed"], ["upload resumed"]])
      expect(added).toEqual([["upload resumed"]])
    }))
})
