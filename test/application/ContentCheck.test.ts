/**
 * ContentCheck over real file heads (file-type): any chunking gives the same
 * verdict, text is validated across chunk boundaries, and only the head is kept.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as ContentCheck from "../../src/application/ContentCheck.js"
import { ELF_HEAD, PDF_HEAD, PNG_HEAD, withHead } from "../support/content.js"

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

  it.effect("a format no detector knows is not checked", () =>
    Effect.gen(function*() {
      expect(yield* verdictOf("xyz", withHead(ELF_HEAD, 5000), 100)).toEqual(Option.none())
    }))
})
