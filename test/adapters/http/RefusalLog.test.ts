import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, HashMap, Option, TestClock } from "effect"
import * as RefusalLog from "../../../src/adapters/http/RefusalLog.js"
import { type LogLine, recordingLogger } from "../../support/logs.js"

/** Runs `body` with a fresh refusal log (10 s window) and every line it writes recorded. */
const withLog = <A, E>(body: (log: RefusalLog.RefusalLog, lines: ReadonlyArray<LogLine>) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const lines: Array<LogLine> = []
    const logger = recordingLogger(lines)
    const log = yield* RefusalLog.make()
    return yield* Effect.provide(body(log, lines), logger)
  })

const client = "192.0.2.7"

describe("RefusalLog", () => {
  it.effect("a refused origin is logged at warning level with the origin and the client", () =>
    withLog((log, lines) =>
      Effect.gen(function*() {
        yield* log.refused("origin", { client, origin: "http://localhost:8090" })
        expect(lines).toEqual([{
          level: "WARN",
          message: "handshake refused: origin not allowed",
          annotations: { client, origin: "http://localhost:8090" }
        }])
      })))

  it.effect("a wrong path is logged at info level with the path; token refusals at warning level", () =>
    withLog((log, lines) =>
      Effect.gen(function*() {
        yield* log.refused("path", { client, path: "/ws/upload" })
        yield* log.refused("missing token", { client })
        yield* log.refused("invalid token", { client })
        expect(lines.map((line) => [line.level, line.message, line.annotations["path"]])).toEqual([
          ["INFO", "handshake refused: not the upload path", "/ws/upload"],
          ["WARN", "handshake refused: no token", undefined],
          ["WARN", "handshake refused: invalid token", undefined]
        ])
      })))

  it.effect("one line per kind per 10 s: the next one says how many were left out since the last", () =>
    withLog((log, lines) =>
      Effect.gen(function*() {
        for (let i = 0; i < 58; i++) yield* log.refused("origin", { client, origin: `https://flood-${i}.example` })
        yield* log.refused("invalid token", { client })
        expect(lines.map((line) => line.message)).toEqual(["handshake refused: origin not allowed", "handshake refused: invalid token"])
        yield* TestClock.adjust(Duration.millis(9_999))
        yield* log.refused("origin", { client, origin: "https://late.example" })
        expect(lines).toHaveLength(2)
        yield* TestClock.adjust(Duration.millis(1))
        yield* log.refused("origin", { client, origin: "https://later.example" })
        expect(lines.slice(2)).toEqual([{
          level: "WARN",
          message: "handshake refused: origin not allowed",
          annotations: { client, origin: "https://later.example", suppressed: 58 }
        }])
        yield* TestClock.adjust(Duration.seconds(30))
        yield* log.refused("origin", { client, origin: "https://quiet.example" })
        expect(lines[3]!.annotations).not.toHaveProperty("suppressed")
      })))

  it.effect("flush logs the refusals still left out, per kind, once", () =>
    withLog((log, lines) =>
      Effect.gen(function*() {
        yield* log.flush
        expect(lines).toEqual([])
        for (let i = 0; i < 50; i++) yield* log.refused("origin", { client, origin: "https://flood.example" })
        yield* log.refused("path", { client, path: "/" })
        yield* log.flush
        expect(lines.slice(2)).toEqual([{
          level: "WARN",
          message: "handshake refusals left out of the log since its last line",
          annotations: { kind: "origin", suppressed: 49 }
        }])
        yield* log.flush
        expect(lines).toHaveLength(3)
      })))

  it("admit is pure: the first refusal of a kind and the first after the window get a line", () => {
    const [first, afterFirst] = RefusalLog.admit(HashMap.empty(), "origin", 1_000, 10_000)
    expect(first).toEqual(Option.some(0))
    const [second, afterSecond] = RefusalLog.admit(afterFirst, "origin", 5_000, 10_000)
    expect(second).toEqual(Option.none())
    expect(RefusalLog.admit(afterSecond, "path", 5_000, 10_000)[0]).toEqual(Option.some(0))
    expect(RefusalLog.admit(afterSecond, "origin", 11_000, 10_000)[0]).toEqual(Option.some(1))
  })

  describe("sanitise", () => {
    it("keeps printable ASCII as it is", () => {
      expect(RefusalLog.sanitise("http://localhost:8090")).toBe("http://localhost:8090")
    })

    it("escapes control characters, non-ASCII and backslashes, so a value cannot forge a line", () => {
      expect(RefusalLog.sanitise("https://a.example\r\nlevel=ERROR message=forged")).toBe("https://a.example\\x0d\\x0alevel=ERROR message=forged")
      expect(RefusalLog.sanitise("\x1b[31mred\x7f")).toBe("\\x1b[31mred\\x7f")
      expect(RefusalLog.sanitise("https://café.example")).toBe("https://caf\\xe9.example")
      expect(RefusalLog.sanitise("a\\x0ab")).toBe("a\\\\x0ab")
      expect(RefusalLog.sanitise("😀")).toBe("\\u{1f600}")
    })

    it("cuts long values to MAX_LOGGED_LENGTH characters, escapes included", () => {
      const long = RefusalLog.sanitise(`https://${"a".repeat(10_000)}.example`)
      expect(long).toHaveLength(RefusalLog.MAX_LOGGED_LENGTH)
      expect(long.endsWith("...")).toBe(true)
      const escaped = RefusalLog.sanitise("\n".repeat(1_000))
      expect(escaped.length).toBeLessThanOrEqual(RefusalLog.MAX_LOGGED_LENGTH)
      expect(escaped).toMatch(/^(\\x0a)+\.\.\.$/)
    })
  })
})
