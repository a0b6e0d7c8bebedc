/**
 * Strict base64: every valid standard, padded encoding decodes to the exact
 * bytes; anything Node's lenient decoder would silently repair is refused.
 */
import { describe, expect, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import * as Base64 from "../../src/domain/Base64.js"

const STANDARD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

/** Both decoders: the one over a string, and the one over the text's bytes (UTF-8, as a frame carries it). */
const decoders: ReadonlyArray<readonly [string, (text: string) => Buffer | undefined]> = [
  ["decodeStrict", Base64.decodeStrict],
  ["decodeStrictAscii", (text) => Base64.decodeStrictAscii(Buffer.from(text, "utf8"))]
]

describe.each(decoders)("Base64.%s", (_name, decodeStrict) => {
  it("round-trips random bytes of every length from 0 to 100", () => {
    for (let length = 0; length <= 100; length++) {
      for (let sample = 0; sample < 5; sample++) {
        const bytes = randomBytes(length)
        const decoded = decodeStrict(bytes.toString("base64"))
        expect(decoded, `length ${length}`).toBeDefined()
        expect(Buffer.compare(decoded ?? Buffer.alloc(0), bytes), `length ${length}`).toBe(0)
        expect(decoded?.length).toBe(length)
      }
    }
  })

  it("decodes the empty string to zero bytes", () => {
    expect(decodeStrict("")?.length).toBe(0)
  })

  it("decodes single and double padding", () => {
    expect(decodeStrict("YQ==")?.toString("latin1")).toBe("a")
    expect(decodeStrict("YWI=")?.toString("latin1")).toBe("ab")
    expect(decodeStrict("YWJj")?.toString("latin1")).toBe("abc")
  })

  it("decodes every character of the standard alphabet", () => {
    const bytes = decodeStrict(STANDARD_ALPHABET)
    expect(bytes?.toString("base64")).toBe(STANDARD_ALPHABET)
  })

  it.each(["Y", "YQ", "YQ=", "YWJjY", "YQ==="])("refuses %j, whose length is not a multiple of 4", (text) => {
    expect(decodeStrict(text)).toBeUndefined()
  })

  it("refuses padding in the middle (YQ==YQ==)", () => {
    expect(decodeStrict("YQ==YQ==")).toBeUndefined()
  })

  it("refuses data after a padding character (YQ=A)", () => {
    expect(decodeStrict("YQ=A")).toBeUndefined()
  })

  it("refuses the URL-safe '-' character", () => {
    expect(decodeStrict("YW-j")).toBeUndefined()
    expect(decodeStrict("-w==")).toBeUndefined()
  })

  it("refuses the URL-safe '_' character", () => {
    expect(decodeStrict("YW_j")).toBeUndefined()
    expect(decodeStrict("_w==")).toBeUndefined()
  })

  it.each(["YW Jj", "YWJj\nYWJj", "YWJjYW\n\n", "YWJj\r\nYQ==", "\tYWJjYWI", " YWJ"])(
    "refuses whitespace or newlines in %j",
    (text) => {
      expect(decodeStrict(text)).toBeUndefined()
    }
  )

  it.each(["YW!j", "YW*j", "YWJ.", "YWJ\u00e9", "YW\u0000j"])("refuses the junk character in %j", (text) => {
    expect(decodeStrict(text)).toBeUndefined()
  })

  it("refuses padding only (====)", () => {
    expect(decodeStrict("====")).toBeUndefined()
  })

  it("refuses a single character followed by padding (Y===)", () => {
    expect(decodeStrict("Y===")).toBeUndefined()
  })

  it.each(["\u0141WJj", "YW\u012dj", "\u4e41WJj", "YWJ\uff41"])(
    "refuses the non-ASCII character in %j, which Node would read by its low byte",
    (text) => {
      expect(decodeStrict(text)).toBeUndefined()
    }
  )

  it("refuses every character outside the standard alphabet in any position of a quad", () => {
    const accepted: Array<string> = []
    for (let code = 0; code < 0x180; code++) {
      const character = String.fromCharCode(code)
      if (STANDARD_ALPHABET.includes(character) || character === "=") continue
      for (let position = 0; position < 4; position++) {
        const text = "YWJj".slice(0, position) + character + "YWJj".slice(position + 1)
        if (decodeStrict(text) !== undefined) accepted.push(JSON.stringify(text))
      }
    }
    expect(accepted).toEqual([])
  })
})

describe("Base64.decodeStrictAscii on text longer than one step", () => {
  const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, index) => (index * 2654435761) >>> 24))
  const text = bytes.toString("base64")

  it("decodes it to the same bytes as Node's decoder, for lengths around every step boundary", () => {
    // A step of 32 Ki characters is 24 Ki bytes.
    const lengths = Array.from({ length: 12 }, (_, step) => (step + 1) * 24_576).flatMap((end) => [end - 1, end, end + 1])
    for (const length of [...lengths, 300_000]) {
      const slice = bytes.subarray(0, length)
      expect(Buffer.compare(Base64.decodeStrictAscii(Buffer.from(slice.toString("base64"))) ?? Buffer.alloc(0), slice)).toBe(0)
    }
  })

  it("decodes a view into a larger buffer (a frame's chunk field) without reading outside it", () => {
    const frame = Buffer.from(`{"chunk":"${text}"}`)
    const decoded = Base64.decodeStrictAscii(frame.subarray(10, 10 + text.length))
    expect(decoded !== undefined && Buffer.compare(decoded, bytes)).toBe(0)
  })

  it.each([
    ["a space", " "],
    ["padding", "="],
    ["'-'", "-"],
    ["'_'", "_"],
    ["a non-ASCII character", "\u00e9"],
    ["a non-ASCII character in place of two (the same number of bytes)", "\u00e9", 2]
  ])("refuses %s in a later step, as the one-string decoder does", (_what, character, replaced = 1) => {
    for (const position of [32_767, 32_768, 32_770, 200_001]) {
      const broken = text.slice(0, position) + character + text.slice(position + replaced)
      expect(Base64.decodeStrict(broken)).toBeUndefined()
      expect(Base64.decodeStrictAscii(Buffer.from(broken, "utf8"))).toBeUndefined()
    }
  })
})
