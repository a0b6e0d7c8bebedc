/**
 * ContentCheck over real file heads (file-type): any chunking gives the same
 * verdict, text is validated across chunk boundaries, and only the head is kept.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import fc from "fast-check"
import { release } from "../../../src/adapters/Release.js"
import * as ContentCheck from "../../../src/application/uploads/ContentCheck.js"
import { ELF_HEAD, PDF_HEAD, PNG_HEAD, withHead } from "../../support/content.js"

/** Feeds `bytes` in pieces of `size`; the first refusal, checking after every piece and at the end. */
const verdictOf = (extension: string, bytes: Uint8Array, size: number) =>
  Effect.gen(function*() {
    const check = ContentCheck.make(extension)
    for (let offset = 0; offset < bytes.length; offset += size) {
      check.feed(bytes.subarray(offset, offset + size))
      const early = yield* check.verdict(false)
      if (Option.isSome(early)) return early
    }
    return yield* check.verdict(true)
  })

const PIECE_SIZES = [1, 7, 4099, 4100, 4101, 65536]

describe("ContentCheck", () => {
  it.effect("a real PNG head passes in pieces of any size, 1 byte included", () =>
    Effect.gen(function*() {
      const png = withHead(PNG_HEAD, 10_000)
      for (const size of PIECE_SIZES) expect(yield* verdictOf("png", png, size), `pieces of ${size}`).toEqual(Option.none())
    }))

  it.effect("an executable named .png is refused, in pieces of any size", () =>
    Effect.gen(function*() {
      const elf = withHead(ELF_HEAD, 10_000)
      for (const size of PIECE_SIZES) {
        expect(yield* verdictOf("png", elf, size)).toEqual(Option.some("File content does not match its extension .png; upload discarded"))
      }
    }))

  it.effect("the signature is judged once the head is full, before the file ends", () =>
    Effect.gen(function*() {
      const check = ContentCheck.make("pdf")
      check.feed(withHead(ELF_HEAD, ContentCheck.HEAD_BYTES - 1))
      expect(yield* check.verdict(false)).toEqual(Option.none())
      check.feed(new Uint8Array(1))
      expect(Option.isSome(yield* check.verdict(false))).toBe(true)
    }))

  it.effect("a short file is judged on what it has when it is complete; an empty one passes", () =>
    Effect.gen(function*() {
      expect(yield* verdictOf("pdf", PDF_HEAD, 3)).toEqual(Option.none())
      expect(Option.isSome(yield* verdictOf("pdf", Buffer.from("hello"), 3))).toBe(true)
      expect(yield* ContentCheck.make("png").verdict(true)).toEqual(Option.none())
    }))

  it.effect("UTF-8 text passes even when chunks split its characters", () =>
    Effect.gen(function*() {
      const text = Buffer.from("naïve café – 日本語 – 😀\n".repeat(300))
      for (const size of PIECE_SIZES) expect(yield* verdictOf("txt", text, size)).toEqual(Option.none())
    }))

  it.effect("UTF-8 text passes when each chunk is freed after it is fed (the store frees chunks once written)", () =>
    Effect.gen(function*() {
      const text = Buffer.from("naïve café – 日本語 – 😀\n".repeat(300))
      const check = ContentCheck.make("txt")
      for (let offset = 0; offset < text.length; offset += 4100) {
        // A Buffer of its own (over 4 KiB, so not from the pool), as ws hands out; its slice() is a view.
        // 4100-byte pieces cut the emoji of the 36-byte line.
        const piece = Buffer.from(text.subarray(offset, offset + 4100))
        check.feed(piece)
        release(piece)
        expect(yield* check.verdict(false)).toEqual(Option.none())
      }
      expect(yield* check.verdict(true)).toEqual(Option.none())
    }))

  it.effect("text with a NUL byte, invalid UTF-8, or a character cut off at the end is refused", () =>
    Effect.gen(function*() {
      const refusal = Option.some("File content does not match its extension .txt: expected UTF-8 text without NUL bytes; upload discarded")
      expect(yield* verdictOf("txt", Buffer.from("abc\0def"), 2)).toEqual(refusal)
      expect(yield* verdictOf("txt", Buffer.from([0x61, 0xff, 0x62]), 1)).toEqual(refusal)
      expect(yield* verdictOf("txt", Buffer.from("abc😀").subarray(0, 5), 1)).toEqual(refusal)
      expect(yield* verdictOf("csv", withHead(ELF_HEAD, 100), 10)).toEqual(
        Option.some("File content does not match its extension .csv: expected UTF-8 text without NUL bytes; upload discarded")
      )
    }))

  it.effect("streamed text validation agrees with a whole-file UTF-8 decode, for any bytes cut anywhere", () =>
    Effect.gen(function*() {
      const oracle = (bytes: Uint8Array): boolean => {
        try {
          new TextDecoder("utf-8", { fatal: true }).decode(bytes)
          return !bytes.includes(0)
        } catch {
          return false
        }
      }
      const nearlyText = fc.oneof(
        fc.string({ unit: "binary" }).map((text) => new Uint8Array(Buffer.from(text))),
        fc.tuple(fc.string({ unit: "binary" }), fc.nat(8)).map(([text, cut]) => {
          const bytes = Buffer.from(text)
          return new Uint8Array(bytes.subarray(0, Math.max(0, bytes.length - cut)))
        }),
        fc.uint8Array({ maxLength: 64 }),
        fc.array(fc.constantFrom(0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xed, 0xa0, 0x80, 0xc0, 0xaf, 0xff, 0x41), { maxLength: 24 })
          .map((bytes) => Uint8Array.from(bytes))
      )
      const property = fc.asyncProperty(nearlyText, fc.array(fc.nat(), { maxLength: 8 }), async (bytes, cuts) => {
        const check = ContentCheck.make("txt")
        const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b)
        let from = 0
        for (const point of [...points, bytes.length]) {
          check.feed(bytes.subarray(from, point))
          from = point
        }
        const verdict = await Effect.runPromise(check.verdict(true))
        expect(Option.isNone(verdict)).toBe(oracle(bytes))
      })
      yield* Effect.promise(() => fc.assert(property, { seed: 0x7e47, numRuns: 3000 }))
    }))

  it.effect("a format no detector knows is not checked", () =>
    Effect.gen(function*() {
      expect(yield* verdictOf("xyz", withHead(ELF_HEAD, 5000), 100)).toEqual(Option.none())
    }))
})
