/**
 * The client's pacer on its own (times passed in): 95% of the announced
 * limit in any span of one period plus a margin (250 ms, or 2% of the
 * period), by message count and by bytes, and nothing at all before a
 * refusal's end.
 */
import { describe, expect, it } from "vitest"
import { frameBytes, makePacer, rateLimitOf } from "../../src/client/Pacer.js"

describe("the pacer", () => {
  it("lets 95% of the messages go in a period, then waits until the oldest has left the span", () => {
    const pacer = makePacer()
    pacer.announce({ messages: 10, periodMs: 1000, bytes: undefined })
    for (let t = 0; t < 9; t++) {
      expect(pacer.delayFor(1, t)).toBe(0)
      pacer.sent(1, t)
    }
    expect(pacer.delayFor(1, 9)).toBe(1250 - 9)
    expect(pacer.delayFor(1, 1250)).toBe(0)
  })

  it("counts bytes when the server limits them; a message larger than the budget goes alone", () => {
    const pacer = makePacer()
    pacer.announce({ messages: 100, periodMs: 60_000, bytes: 1000 })
    pacer.sent(600, 0)
    expect(pacer.delayFor(300, 10)).toBe(0)
    expect(pacer.delayFor(400, 10)).toBe(61_200 - 10) // 600 + 400 is over 950
    expect(pacer.delayFor(5000, 10)).toBe(61_200 - 10)
    expect(pacer.delayFor(5000, 61_200)).toBe(0)
  })

  it("sends nothing before a refusal's end, and counts afresh after it", () => {
    const pacer = makePacer()
    pacer.announce({ messages: 2, periodMs: 1000, bytes: undefined })
    pacer.sent(1, 0)
    pacer.refusedUntil(5000)
    expect(pacer.delayFor(1, 100)).toBe(4900)
    expect(pacer.delayFor(1, 5000)).toBe(0)
  })

  it("waits for nothing until a limit is announced", () => {
    const pacer = makePacer()
    for (let t = 0; t < 100; t++) pacer.sent(1, t)
    expect(pacer.delayFor(1, 100)).toBe(0)
  })

  it("reads rate_limit from meta_received, bytes absent when unlimited; ignores a malformed one", () => {
    const meta = (rate_limit: unknown) => ({ type: "meta_received", message: "Ready", rate_limit })
    expect(rateLimitOf(meta({ messages: 1000, period_seconds: 60, bytes: 1073741824 }))).toEqual({ messages: 1000, periodMs: 60_000, bytes: 1073741824 })
    expect(rateLimitOf(meta({ messages: 1000, period_seconds: 60 }))).toEqual({ messages: 1000, periodMs: 60_000, bytes: undefined })
    expect(rateLimitOf(meta({ messages: "1000", period_seconds: 60 }))).toBeUndefined()
    expect(rateLimitOf(meta(undefined))).toBeUndefined()
  })

  it("counts a text frame's bytes in UTF-8", () => {
    expect(frameBytes("abc")).toBe(3)
    expect(frameBytes("é")).toBe(2)
    expect(frameBytes("名")).toBe(3)
    expect(frameBytes("😀")).toBe(4)
    expect(frameBytes(new Uint8Array(7))).toBe(7)
  })
})
