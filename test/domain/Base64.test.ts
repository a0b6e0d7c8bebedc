/**
 * Strict base64: every valid standard, padded encoding decodes to the exact
 * bytes; anything Node's lenient decoder would silently repair is refused.
 */
import { describe, expect, it } from "@effect/vitest"
import { randomBytes } from "node:crypto"
import * as Base64 from "../../src/domain/Base64.js"

const STANDARD_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

describe("Base64.decodeStrict", () => {
  it("round-trips random bytes of every length from 0 to 100", () => {
    for (let length = 0; length <= 100; length++) {
      for (let sample = 0; sample < 5; sample++) {
        const bytes = randomBytes(length)
        const decoded = Base64.decodeStrict(bytes.toString("base64"))
        expect(decoded, `length ${length}`).toBeDefined()
        expect(Buffer.compare(decoded ?? Buffer.alloc(0), bytes), `length ${length}`).toBe(0)
        expect(decoded?.length).toBe(length)
      }
    }
  })

  it("decodes the empty string to zero bytes", () => {
    expect(Base64.decodeStrict("")?.length).toBe(0)
  })

  it("decodes single and double padding", () => {
    expect(Base64.decodeStrict("YQ==")?.toString("latin1")).toBe("a")
    expect(Base64.decodeStrict("YWI=")?.toString("latin1")).toBe("ab")
    expect(Base64.decodeStrict("YWJj")?.toString("latin1")).toBe("abc")
  })

  it("decodes every character of the standard alphabet", () => {
    const bytes = Base64.decodeStrict(STANDARD_ALPHABET)
    expect(bytes?.toString("base64")).toBe(STANDARD_ALPHABET)
  })

  it.each(["Y", "YQ", "YQ=", "YWJjY", "YQ==="])("refuses %j, whose length is not a multiple of 4", (text) => {
    expect(Base64.decodeStrict(text)).toBeUndefined()
  })

  it("refuses padding in the middle (YQ==YQ==)", () => {
    expect(Base64.decodeStrict("YQ==YQ==")).toBeUndefined()
  })

  it("refuses data after a padding character (YQ=A)", () => {
    expect(Base64.decodeStrict("YQ=A")).toBeUndefined()
  })

  it("refuses the URL-safe '-' character", () => {
    expect(Base64.decodeStrict("YW-j")).toBeUndefined()
    expect(Base64.decodeStrict("-w==")).toBeUndefined()
  })

  it("refuses the URL-safe '_' character", () => {
    expect(Base64.decodeStrict("YW_j")).toBeUndefined()
    expect(Base64.decodeStrict("_w==")).toBeUndefined()
  })

  it.each(["YW Jj", "YWJj\nYWJj", "YWJjYW\n\n", "YWJj\r\nYQ==", "\tYWJjYWI", " YWJ"])(
    "refuses whitespace or newlines in %j",
    (text) => {
      expect(Base64.decodeStrict(text)).toBeUndefined()
    }
  )

  it.each(["YW!j", "YW*j", "YWJ.", "YWJ\u00e9", "YW\u0000j"])("refuses the junk character in %j", (text) => {
    expect(Base64.decodeStrict(text)).toBeUndefined()
  })

  it("refuses padding only (====)", () => {
    expect(Base64.decodeStrict("====")).toBeUndefined()
  })

  it("refuses a single character followed by padding (Y===)", () => {
    expect(Base64.decodeStrict("Y===")).toBeUndefined()
  })

  it.each(["\u0141WJj", "YW\u012dj", "\u4e41WJj", "YWJ\uff41"])(
    "refuses the non-ASCII character in %j, which Node would read by its low byte",
    (text) => {
      expect(Base64.decodeStrict(text)).toBeUndefined()
    }
  )

  it("refuses every character outside the standard alphabet in any position of a quad", () => {
    const accepted: Array<string> = []
    for (let code = 0; code < 0x180; code++) {
      const character = String.fromCharCode(code)
      if (STANDARD_ALPHABET.includes(character) || character === "=") continue
      for (let position = 0; position < 4; position++) {
        const text = "YWJj".slice(0, position) + character + "YWJj".slice(position + 1)
        if (Base64.decodeStrict(text) !== undefined) accepted.push(JSON.stringify(text))
      }
    }
    expect(accepted).toEqual([])
  })
})
