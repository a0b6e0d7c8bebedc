/**
 * ContentPolicy: which bytes each extension promises, and the verdict on a
 * detected signature.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as ContentPolicy from "../../src/domain/ContentPolicy.js"

const detectable = new Set(["png", "apng", "jpg", "pdf", "zip", "docx", "dat", "xml", "elf", "exe"])

describe("ContentPolicy", () => {
  it("text formats must be UTF-8 text, whatever a detector knows about them", () => {
    for (const extension of ["txt", "csv", "json", "md", "xml", "TXT"]) {
      expect(ContentPolicy.expectationFor(extension, detectable)).toEqual(ContentPolicy.Expectation.Text())
    }
  })

  it("a format the detector knows must carry its signature, and accepts the names of the same family", () => {
    expect(ContentPolicy.expectationFor("png", detectable)).toEqual(ContentPolicy.Expectation.Signature({ accepted: ["png", "apng"] }))
    expect(ContentPolicy.expectationFor("jpeg", new Set(["jpeg"]))).toEqual(
      ContentPolicy.Expectation.Signature({ accepted: ["jpg", "jpeg", "jpe", "jfif"] })
    )
    expect(ContentPolicy.expectationFor("pdf", detectable)).toEqual(ContentPolicy.Expectation.Signature({ accepted: ["pdf", "ai"] }))
  })

  it("formats no detector knows, and generic names like .dat, are not checked", () => {
    expect(ContentPolicy.expectationFor("heif2", detectable)).toEqual(ContentPolicy.Expectation.Anything())
    expect(ContentPolicy.expectationFor("dat", detectable)).toEqual(ContentPolicy.Expectation.Anything())
  })

  it("judges a detected head: same family passes, another type or none is refused with the extension named", () => {
    expect(Either.isRight(ContentPolicy.judgeSignature("png", ["png", "apng"], "apng"))).toBe(true)
    expect(ContentPolicy.judgeSignature("png", ["png", "apng"], "elf")).toEqual(
      Either.left("File content does not match its extension .png; upload discarded")
    )
    expect(ContentPolicy.judgeSignature("png", ["png", "apng"], undefined)).toEqual(
      Either.left("File content does not match its extension .png; upload discarded")
    )
    expect(Either.isRight(ContentPolicy.judgeSignature("docx", ["zip", "docx"], "zip"))).toBe(true)
  })
})
