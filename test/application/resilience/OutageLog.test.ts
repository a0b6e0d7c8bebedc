/**
 * OutageLog with a recording logger: one line when an outage starts, one when
 * it ends, nothing for the failures and answers in between.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as OutageLog from "../../../src/application/resilience/OutageLog.js"
import { type LogLine, recordingLogger } from "../../support/logs.js"

const messages = { down: "store unavailable; falling back", up: "store available again" }
const refused = { message: "connection refused" }

/** Runs `body` with a fresh OutageLog; the lines it logged. */
const logged = (body: (outage: OutageLog.OutageLog) => Effect.Effect<unknown>) =>
  Effect.gen(function*() {
    const lines: Array<LogLine> = []
    yield* Effect.flatMap(OutageLog.make(messages), body).pipe(Effect.provide(recordingLogger(lines)))
    return lines.map((line) => [line.level, line.message, line.annotations["error"]])
  })

describe("OutageLog", () => {
  it.effect("logs an outage once when it starts, with the first error, and once when it ends", () =>
    Effect.gen(function*() {
      const lines = yield* logged((outage) =>
        Effect.all([
          outage.down(refused),
          outage.down({ message: "timed out" }),
          outage.up,
          outage.up,
          outage.down({ message: "reset" }),
          outage.up
        ]))
      expect(lines).toEqual([
        ["ERROR", messages.down, "connection refused"],
        ["WARN", messages.up, undefined],
        ["ERROR", messages.down, "reset"],
        ["WARN", messages.up, undefined]
      ])
    }))

  it.effect("logs nothing while the dependency answers", () =>
    Effect.gen(function*() {
      expect(yield* logged((outage) => Effect.all([outage.up, outage.up]))).toEqual([])
    }))

  it.effect("calls that fail or answer at the same time log each line once", () =>
    Effect.gen(function*() {
      const lines = yield* logged((outage) =>
        Effect.zipRight(
          Effect.all(Array.from({ length: 20 }, () => outage.down(refused)), { concurrency: "unbounded" }),
          Effect.all(Array.from({ length: 20 }, () => outage.up), { concurrency: "unbounded" })
        ))
      expect(lines.map(([level]) => level)).toEqual(["ERROR", "WARN"])
    }))
})
