/**
 * File-name policy: cleaning a client-supplied name, checking it against the
 * allowed extensions and the byte limit, and deriving alternative names.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as FileName from "../../src/domain/FileName.js"

const allowed = ["txt", "pdf"] as const

const utf8Bytes = (text: string): number => Buffer.byteLength(text, "utf8")

/** The accepted file, or a test failure carrying the refusal. */
const accepted = (fileName: string, allowedExtensions: ReadonlyArray<string> = allowed): FileName.SafeFileName =>
  Either.getOrThrowWith(FileName.validate(fileName, allowedExtensions), (reason) => new Error(`refused: ${reason}`))

/** The refusal, or a test failure carrying the accepted file. */
const refusal = (fileName: string, allowedExtensions: ReadonlyArray<string> = allowed): string =>
  Either.match(FileName.validate(fileName, allowedExtensions), {
    onLeft: (reason) => reason.message,
    onRight: (file) => {
      throw new Error(`accepted: ${JSON.stringify(file)}`)
    }
  })

const NO_NAME = "Invalid file name: it needs a name and an extension"

describe("FileName.clean", () => {
  it("keeps only the last path component of a /-separated path", () => {
    expect(FileName.clean("../../etc/passwd.txt")).toBe("passwd.txt")
  })

  it("keeps only the last path component of a \\-separated path", () => {
    expect(FileName.clean("C:\\x\\y.pdf")).toBe("y.pdf")
  })

  it("drops everything except letters, digits, '.', '_' and '-'", () => {
    expect(FileName.clean("my report (1).pdf")).toBe("myreport1.pdf")
    expect(FileName.clean("a_b-c;rm -rf *.txt")).toBe("a_b-crm-rf.txt")
  })

  it("keeps non-ASCII letters", () => {
    expect(FileName.clean("résumé.pdf")).toBe("résumé.pdf")
    expect(FileName.clean("отчёт_2024.pdf")).toBe("отчёт_2024.pdf")
  })

  it("normalises a decomposed é to its composed NFC form", () => {
    const decomposed = "re\u0301sume\u0301.pdf"
    const cleaned = FileName.clean(decomposed)
    expect(cleaned).toBe("r\u00e9sum\u00e9.pdf")
    expect(cleaned.length).toBe(10)
  })

  it("drops leading and trailing dots", () => {
    expect(FileName.clean("..hidden.txt")).toBe("hidden.txt")
    expect(FileName.clean("name.txt...")).toBe("name.txt")
    expect(FileName.clean("...")).toBe("")
  })
})

describe("FileName.validate", () => {
  it("accepts a plain name and reports its stem and extension", () => {
    expect(accepted("report.pdf")).toEqual({ name: "report.pdf", stem: "report", extension: "pdf" })
  })

  it("stores the cleaned last path component", () => {
    expect(accepted("../../etc/passwd.txt").name).toBe("passwd.txt")
    expect(accepted("C:\\x\\y.pdf").name).toBe("y.pdf")
    expect(accepted("my report (1).pdf").name).toBe("myreport1.pdf")
  })

  it.each(["$.txt", ".txt", "..txt", "..."])("refuses %j as having no name", (fileName) => {
    expect(refusal(fileName)).toContain(NO_NAME)
  })

  it("refuses a name without an extension", () => {
    expect(refusal("noext")).toContain(NO_NAME)
  })

  it("refuses a name ending in a dot", () => {
    expect(refusal("a.")).toContain(NO_NAME)
  })

  it("refuses an empty name", () => {
    expect(refusal("")).toContain(NO_NAME)
  })

  it("checks the extension case-insensitively, reports it in lower case and keeps the original spelling", () => {
    const file = accepted("Photo.JPG", ["jpg"])
    expect(file.name).toBe("Photo.JPG")
    expect(file.stem).toBe("Photo")
    expect(file.extension).toBe("jpg")
  })

  it("uses only the last dot for the extension", () => {
    const file = accepted("archive.tar.pdf")
    expect(file.stem).toBe("archive.tar")
    expect(file.extension).toBe("pdf")
  })

  it("refuses an extension outside the allowed list with the exact message", () => {
    expect(refusal("setup.exe")).toBe("Invalid file extension: exe. Allowed: txt, pdf")
  })

  it("reports a refused extension in lower case", () => {
    expect(refusal("SETUP.EXE")).toBe("Invalid file extension: exe. Allowed: txt, pdf")
  })

  it("accepts a name of exactly 255 bytes (251 characters + .txt)", () => {
    const fileName = `${"a".repeat(251)}.txt`
    expect(utf8Bytes(fileName)).toBe(255)
    expect(accepted(fileName).name).toBe(fileName)
  })

  it("refuses a name longer than 255 bytes (254 characters + .txt)", () => {
    expect(refusal(`${"a".repeat(254)}.txt`)).toBe("Invalid file name: longer than 255 bytes")
  })

  it("refuses 256 bytes of ASCII (252 characters + .txt)", () => {
    expect(refusal(`${"a".repeat(252)}.txt`)).toBe("Invalid file name: longer than 255 bytes")
  })

  it("measures the length limit in UTF-8 bytes, not characters", () => {
    // "é" is 2 bytes: 125 of them + ".txt" = 254 bytes, 126 = 256 bytes (130 characters).
    const fits = `${"é".repeat(125)}.txt`
    const tooLong = `${"é".repeat(126)}.txt`
    expect(accepted(fits).name).toBe(fits)
    expect(tooLong.length).toBeLessThan(255)
    expect(refusal(tooLong)).toBe("Invalid file name: longer than 255 bytes")
  })

  it("measures a 4-byte character as 4 bytes", () => {
    // "𠀀" is 4 bytes (2 UTF-16 units): 63 of them + ".txt" = 256 bytes.
    expect(refusal(`${"𠀀".repeat(63)}.txt`)).toBe("Invalid file name: longer than 255 bytes")
  })
})

describe("FileName.alternativeName", () => {
  it("appends _n to the stem", () => {
    expect(FileName.alternativeName(accepted("report.pdf"), 1)).toBe("report_1.pdf")
    expect(FileName.alternativeName(accepted("report.pdf"), 12)).toBe("report_12.pdf")
  })

  it("keeps the original spelling of the extension", () => {
    expect(FileName.alternativeName(accepted("Photo.JPG", ["jpg"]), 1)).toBe("Photo_1.JPG")
  })

  it("shortens the stem so an ASCII name stays within 255 bytes", () => {
    const file = accepted(`${"a".repeat(251)}.txt`)
    const alternative = FileName.alternativeName(file, 1)
    expect(alternative).toBe(`${"a".repeat(249)}_1.txt`)
    expect(utf8Bytes(alternative)).toBe(255)
  })

  it("shortens a multi-byte stem without splitting a character", () => {
    // 1 + 62 * 4 = 249 bytes of stem; "_10.txt" needs 7 bytes, so one emoji must go.
    const file = accepted(`a${"𠀀".repeat(62)}.txt`)
    const alternative = FileName.alternativeName(file, 10)
    expect(alternative).toBe(`a${"𠀀".repeat(61)}_10.txt`)
    expect(utf8Bytes(alternative)).toBeLessThanOrEqual(255)
    // A split surrogate pair (U+20000 is one) would not survive a UTF-8 round trip.
    expect(Buffer.from(alternative, "utf8").toString("utf8")).toBe(alternative)
  })

  it("keeps every alternative of a 2-byte-character name within 255 bytes and well formed", () => {
    const file = accepted(`${"é".repeat(125)}.pdf`)
    for (const attempt of [1, 9, 10, 99, 100, 12345]) {
      const alternative = FileName.alternativeName(file, attempt)
      expect(utf8Bytes(alternative)).toBeLessThanOrEqual(255)
      expect(alternative.endsWith(`_${attempt}.pdf`)).toBe(true)
      expect(Buffer.from(alternative, "utf8").toString("utf8")).toBe(alternative)
    }
  })
})
