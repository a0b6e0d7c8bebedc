/**
 * The upload protocol's pure transition: example steps for each rule, then
 * fast-check properties over random message sequences checking the invariants.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either, Option } from "effect"
import fc from "fast-check"
import type { Refusal } from "../../src/domain/Refusal.js"
import * as Upload from "../../src/domain/Upload.js"
import type { ChunkBytes, Step, UploadPolicy, UploadState } from "../../src/domain/Upload.js"
import type { ClientMessage } from "../../src/domain/Messages.js"

const policy: UploadPolicy = { maxFileBytes: 10, maxChunkBytes: 8, allowedExtensions: ["txt", "pdf"] }

const meta = (fileName: string, fileSize: number, extra: { readonly sha256?: string } = {}): ClientMessage => ({
  type: "file_meta",
  file_name: fileName,
  file_size: fileSize,
  ...extra
})
const chunkBytes = (length: number): ChunkBytes => ({ type: "chunk_bytes", bytes: new Uint8Array(length).fill(7) })
const chunkText = (chunk: string): ClientMessage => ({ type: "file_chunk", chunk })

const UPLOAD_ID = "aB3_-xYz0123456789abcdEF"
const SHA_A = "a".repeat(64)
const SHA_B = "b".repeat(64)

/** A resume request: file_meta with the upload_id from meta_received. */
const resumeMeta = (fileName: string, fileSize: number, extra: { readonly sha256?: string } = {}): ClientMessage => ({
  type: "file_meta",
  file_name: fileName,
  file_size: fileSize,
  upload_id: UPLOAD_ID,
  ...extra
})
const chunkAt = (chunk: string, offset: number): ClientMessage => ({ type: "file_chunk", chunk, offset })
const cancel: ClientMessage = { type: "cancel" }

const step = (state: UploadState, message: ClientMessage | ChunkBytes): Step =>
  Upload.transition(state, message, policy)

/** The state a step leaves; a Resume's depends on what the application finds (see `resumed`). */
const nextOf = (result: Step): UploadState => {
  if (result._tag === "Resume") throw new Error("a Resume step has no next state of its own: use Upload.resumed")
  return result.next
}

/** Runs `messages` from Idle and returns the last step. */
const run = (...messages: ReadonlyArray<ClientMessage | ChunkBytes>): Step => {
  let state = Upload.initial
  let last: Step | undefined
  for (const message of messages) {
    last = step(state, message)
    state = nextOf(last)
  }
  if (last === undefined) throw new Error("run needs at least one message")
  return last
}

/** The state after `messages`, from Idle. */
const stateAfter = (...messages: ReadonlyArray<ClientMessage | ChunkBytes>): UploadState => nextOf(run(...messages))

const expectTag = <T extends Step["_tag"]>(actual: Step, tag: T): Extract<Step, { readonly _tag: T }> => {
  expect(actual._tag).toBe(tag)
  return actual as Extract<Step, { readonly _tag: T }>
}

describe("Upload.transition", () => {
  it("starts receiving on a valid file_meta in Idle", () => {
    const start = expectTag(step(Upload.initial, meta("a.txt", 4)), "Start")
    expect(start.file.name).toBe("a.txt")
    expect(start.replaces).toBe(false)
    expect(start.completed).toBe(false)
    expect(start.fileName).toBe("a.txt")
    expect(start.size).toBe(4)
    expect(start.expectedSha256).toBeUndefined()
    expect(start.next).toEqual(Upload.UploadState.Receiving({ file: start.file, size: 4, received: 0, expectedSha256: undefined }))
  })

  it("completes a 0-byte file at once", () => {
    const start = expectTag(step(Upload.initial, meta("empty.txt", 0)), "Start")
    expect(start.completed).toBe(true)
    expect(start.next._tag).toBe("Completed")
  })

  it("refuses a chunk in Idle with NO_UPLOAD without discarding", () => {
    const refuse = expectTag(step(Upload.initial, chunkBytes(1)), "Refuse")
    expect(refuse.refusal.message).toBe(Upload.NO_UPLOAD)
    expect(refuse.discard).toBe(false)
    expect(refuse.next._tag).toBe("Idle")
  })

  it("refuses a base64 chunk in Idle with NO_UPLOAD", () => {
    const refuse = expectTag(step(Upload.initial, chunkText("YQ==")), "Refuse")
    expect(refuse.refusal.message).toBe(Upload.NO_UPLOAD)
  })

  it("refuses a chunk after the upload completed with NO_UPLOAD", () => {
    const refuse = expectTag(run(meta("a.txt", 2), chunkBytes(2), chunkBytes(1)), "Refuse")
    expect(refuse.refusal.message).toBe(Upload.NO_UPLOAD)
    expect(refuse.discard).toBe(false)
    expect(refuse.next._tag).toBe("Completed")
  })

  it("refuses a chunk after a 0-byte file with NO_UPLOAD", () => {
    expect(expectTag(run(meta("a.txt", 0), chunkBytes(1)), "Refuse").refusal.message).toBe(Upload.NO_UPLOAD)
  })

  it("refuses invalid base64 with INVALID_BASE64 and leaves the state unchanged", () => {
    const receiving = stateAfter(meta("a.txt", 4), chunkBytes(1))
    const refuse = expectTag(step(receiving, chunkText("YQ=A")), "Refuse")
    expect(refuse.refusal.message).toBe(Upload.INVALID_BASE64)
    expect(refuse.discard).toBe(false)
    expect(refuse.next).toEqual(receiving)
  })

  it("appends a base64 chunk's decoded bytes", () => {
    const append = expectTag(run(meta("a.txt", 4), chunkText("YWJj")), "Append")
    expect(Buffer.from(append.bytes).toString("latin1")).toBe("abc")
    expect(append.next).toMatchObject({ _tag: "Receiving", received: 3 })
  })

  it("completes when a chunk reaches the declared size exactly", () => {
    const append = expectTag(run(meta("a.txt", 4), chunkBytes(4)), "Append")
    expect(append.completed).toBe(true)
    expect(append.next._tag).toBe("Completed")
  })

  it("counts the bytes of partial chunks", () => {
    const append = expectTag(run(meta("a.txt", 10), chunkBytes(3), chunkBytes(4)), "Append")
    expect(append.completed).toBe(false)
    expect(append.next).toMatchObject({ _tag: "Receiving", size: 10, received: 7 })
  })

  it("completes on the chunk that brings the received count to the size", () => {
    const append = expectTag(run(meta("a.txt", 10), chunkBytes(3), chunkBytes(4), chunkBytes(3)), "Append")
    expect(append.completed).toBe(true)
  })

  it("refuses a chunk overflowing the declared size and discards the upload", () => {
    const refuse = expectTag(run(meta("a.txt", 4), chunkBytes(5)), "Refuse")
    expect(refuse.refusal.message.startsWith("Chunk exceeds the declared file size (4 bytes)")).toBe(true)
    expect(refuse.discard).toBe(true)
    expect(refuse.next._tag).toBe("Idle")
  })

  it("refuses an overflow counted across chunks", () => {
    const refuse = expectTag(run(meta("a.txt", 4), chunkBytes(3), chunkBytes(2)), "Refuse")
    expect(refuse.discard).toBe(true)
    expect(refuse.next._tag).toBe("Idle")
  })

  it("refuses a chunk larger than maxChunkBytes without discarding", () => {
    const receiving = stateAfter(meta("a.txt", 10))
    const refuse = expectTag(step(receiving, chunkBytes(9)), "Refuse")
    expect(refuse.refusal.message).toContain("Chunk too large")
    expect(refuse.discard).toBe(false)
    expect(refuse.next).toEqual(receiving)
  })

  it("accepts a chunk of exactly maxChunkBytes", () => {
    expectTag(run(meta("a.txt", 10), chunkBytes(8)), "Append")
  })

  it("refuses a file over the size limit", () => {
    const refuse = expectTag(step(Upload.initial, meta("a.txt", 11)), "Refuse")
    expect(refuse.refusal.message.startsWith("File too large")).toBe(true)
    expect(refuse.discard).toBe(false)
    expect(refuse.next._tag).toBe("Idle")
  })

  it("accepts a file of exactly the size limit", () => {
    const start = expectTag(step(Upload.initial, meta("a.txt", 10)), "Start")
    expect(start.next).toMatchObject({ _tag: "Receiving", size: 10, received: 0 })
  })

  it("refuses a meta with a bad file name with the policy's reason", () => {
    const refuse = expectTag(step(Upload.initial, meta("setup.exe", 3)), "Refuse")
    expect(refuse.refusal.message).toBe("Invalid file extension: exe. Allowed: txt, pdf")
    expect(refuse.discard).toBe(false)
  })

  it("replaces the open upload when a new meta arrives while receiving", () => {
    const start = expectTag(run(meta("a.txt", 10), chunkBytes(3), meta("b.pdf", 5)), "Start")
    expect(start.replaces).toBe(true)
    expect(start.file.name).toBe("b.pdf")
    expect(start.next).toMatchObject({ _tag: "Receiving", size: 5, received: 0 })
  })

  it("does not mark a new meta after a completed upload as replacing", () => {
    expect(expectTag(run(meta("a.txt", 1), chunkBytes(1), meta("b.txt", 1)), "Start").replaces).toBe(false)
  })

  it("discards the open upload when an invalid meta arrives while receiving", () => {
    const refuse = expectTag(run(meta("a.txt", 10), chunkBytes(3), meta("noext", 5)), "Refuse")
    expect(refuse.discard).toBe(true)
    expect(refuse.next._tag).toBe("Idle")
  })

  it("discards the open upload when a too-large meta arrives while receiving", () => {
    const refuse = expectTag(run(meta("a.txt", 10), chunkBytes(3), meta("b.txt", 11)), "Refuse")
    expect(refuse.refusal.message.startsWith("File too large")).toBe(true)
    expect(refuse.discard).toBe(true)
    expect(refuse.next._tag).toBe("Idle")
  })

  it("keeps the expected sha256 of a new upload, in lower case, in the Start step and the Receiving state", () => {
    const start = expectTag(step(Upload.initial, meta("a.txt", 4, { sha256: "AB".repeat(32) })), "Start")
    expect(start.expectedSha256).toBe("ab".repeat(32))
    expect(start.next).toMatchObject({ _tag: "Receiving", received: 0, expectedSha256: "ab".repeat(32) })
  })

  it("keeps the expected sha256 across chunks", () => {
    const append = expectTag(run(meta("a.txt", 4, { sha256: SHA_A }), chunkBytes(1)), "Append")
    expect(append.next).toMatchObject({ _tag: "Receiving", received: 1, expectedSha256: SHA_A })
  })
})

describe("Upload.transition: resume", () => {
  it("a file_meta with an upload_id asks to resume that upload, with the name and size as sent", () => {
    const resume = expectTag(step(Upload.initial, resumeMeta("Report.PDF", 9, { sha256: "CD".repeat(32) })), "Resume")
    expect(resume.uploadId).toBe(UPLOAD_ID)
    expect(resume.fileName).toBe("Report.PDF")
    expect(resume.file.name).toBe("Report.PDF")
    expect(resume.size).toBe(9)
    expect(resume.expectedSha256).toBe("cd".repeat(32))
    expect(resume.replaces).toBe(false)
  })

  it("a resume without sha256 leaves the expected digest to the original upload", () => {
    expect(expectTag(step(Upload.initial, resumeMeta("a.txt", 9)), "Resume").expectedSha256).toBeUndefined()
  })

  it("a resume while receiving replaces the open upload", () => {
    const receiving = stateAfter(meta("b.txt", 10), chunkBytes(3))
    expect(expectTag(step(receiving, resumeMeta("a.txt", 9)), "Resume").replaces).toBe(true)
  })

  it("a resume after a completed upload does not replace anything", () => {
    const completed = stateAfter(meta("b.txt", 1), chunkBytes(1))
    expect(expectTag(step(completed, resumeMeta("a.txt", 9)), "Resume").replaces).toBe(false)
  })

  it("a resume is checked against the policy like a new upload", () => {
    expect(expectTag(step(Upload.initial, resumeMeta("setup.exe", 3)), "Refuse").refusal.message).toBe(
      "Invalid file extension: exe. Allowed: txt, pdf"
    )
    const tooLarge = expectTag(step(stateAfter(meta("b.txt", 10)), resumeMeta("a.txt", 11)), "Refuse")
    expect(tooLarge.refusal.message.startsWith("File too large")).toBe(true)
    expect(tooLarge.discard).toBe(true)
    expect(tooLarge.next._tag).toBe("Idle")
  })
})

describe("Upload.resumed", () => {
  const resumeStep = (fileName: string, size: number, expectedSha256?: string) =>
    expectTag(step(Upload.initial, resumeMeta(fileName, size, expectedSha256 === undefined ? {} : { sha256: expectedSha256 })), "Resume")
  const original = (fileName: string, size: number, expectedSha256?: string): Upload.ResumableUpload => ({
    fileName,
    size,
    expectedSha256
  })
  const refusal = (result: Either.Either<UploadState, Refusal>): string =>
    Either.match(result, {
      onLeft: (refused) => refused.message,
      onRight: (state) => {
        throw new Error(`resumed: ${JSON.stringify(state)}`)
      }
    })
  const state = (result: Either.Either<UploadState, Refusal>): UploadState =>
    Either.getOrThrowWith(result, (refused) => new Error(`refused: ${refused.message}`))

  it("continues receiving from the bytes the store holds", () => {
    const resume = resumeStep("a.txt", 10)
    const next = state(Upload.resumed(resume, original("a.txt", 10), 6))
    expect(next).toEqual(Upload.UploadState.Receiving({ file: resume.file, size: 10, received: 6, expectedSha256: undefined }))
  })

  it("continues from 0 when nothing was stored yet", () => {
    expect(state(Upload.resumed(resumeStep("a.txt", 10), original("a.txt", 10), 0))).toMatchObject({
      _tag: "Receiving",
      received: 0
    })
  })

  it("accepts held === size (every byte arrived; the application completes the file)", () => {
    expect(state(Upload.resumed(resumeStep("a.txt", 10), original("a.txt", 10), 10))).toMatchObject({
      _tag: "Receiving",
      size: 10,
      received: 10
    })
  })

  it("refuses another file name, naming the original upload", () => {
    const message = refusal(Upload.resumed(resumeStep("b.txt", 10), original("a.txt", 10), 3))
    expect(message).toBe(
      `Cannot resume: upload_id belongs to "a.txt" (10 bytes); file_name and file_size must match`
    )
  })

  it("refuses a file name that differs only in case", () => {
    expect(refusal(Upload.resumed(resumeStep("A.txt", 10), original("a.txt", 10), 3))).toContain(`"a.txt"`)
  })

  it("refuses another file size, naming the original upload and its size", () => {
    const message = refusal(Upload.resumed(resumeStep("a.txt", 9), original("a.txt", 10), 3))
    expect(message).toContain(`"a.txt" (10 bytes)`)
    expect(message).toContain("file_name and file_size must match")
  })

  it("quotes an original name with quotes safely", () => {
    expect(refusal(Upload.resumed(resumeStep("a.txt", 10), original(`say "hi".txt`, 10), 3))).toContain(
      JSON.stringify(`say "hi".txt`)
    )
  })

  it("refuses a sha256 other than the one the upload started with", () => {
    expect(refusal(Upload.resumed(resumeStep("a.txt", 10, SHA_B), original("a.txt", 10, SHA_A), 3))).toBe(
      "Cannot resume: sha256 differs from the one the upload started with"
    )
  })

  it("compares the sha256 in lower case (the resume may send it in upper case)", () => {
    const next = state(Upload.resumed(resumeStep("a.txt", 10, SHA_A.toUpperCase()), original("a.txt", 10, SHA_A), 3))
    expect(next).toMatchObject({ _tag: "Receiving", expectedSha256: SHA_A })
  })

  it("keeps the original's sha256 when the resume gives none", () => {
    expect(state(Upload.resumed(resumeStep("a.txt", 10), original("a.txt", 10, SHA_A), 3))).toMatchObject({
      expectedSha256: SHA_A
    })
  })

  it("takes the resume's sha256 when the original gave none", () => {
    expect(state(Upload.resumed(resumeStep("a.txt", 10, SHA_B), original("a.txt", 10), 3))).toMatchObject({
      expectedSha256: SHA_B
    })
  })

  it("refuses a store holding more bytes than the upload's size, as an unknown upload", () => {
    expect(refusal(Upload.resumed(resumeStep("a.txt", 10), original("a.txt", 10), 11))).toBe(Upload.UNKNOWN_UPLOAD)
  })

  it("the resumed state accepts the next chunk and completes at the size", () => {
    const resumedState = state(Upload.resumed(resumeStep("a.txt", 10), original("a.txt", 10), 6))
    const offsetChunk = expectTag(step(resumedState, chunkAt(Buffer.alloc(4).toString("base64"), 6)), "Append")
    expect(offsetChunk.completed).toBe(true)
    expect(offsetChunk.next._tag).toBe("Completed")
  })
})

describe("Upload.resumedCompleted", () => {
  const resumeStep = (expectedSha256?: string) =>
    expectTag(step(Upload.initial, resumeMeta("a.txt", 10, expectedSha256 === undefined ? {} : { sha256: expectedSha256 })), "Resume")
  const original: Upload.ResumableUpload = { fileName: "a.txt", size: 10, expectedSha256: undefined }

  it("answers a completed upload again when the digests agree, or when none was asked for", () => {
    expect(Either.isRight(Upload.resumedCompleted(resumeStep(SHA_A), original, SHA_A))).toBe(true)
    expect(Either.isRight(Upload.resumedCompleted(resumeStep(), original, SHA_A))).toBe(true)
    expect(Either.isRight(Upload.resumedCompleted(resumeStep(), original, undefined))).toBe(true)
  })

  it("refuses a digest it cannot confirm: a different one, or any for a file stored without a digest", () => {
    expect(Either.getLeft(Upload.resumedCompleted(resumeStep(SHA_B), original, SHA_A)).pipe(Option.map((r) => r.code))).toEqual(Option.some("resume_mismatch"))
    expect(Either.getLeft(Upload.resumedCompleted(resumeStep(SHA_A), original, undefined)).pipe(Option.map((r) => r.code))).toEqual(Option.some("resume_mismatch"))
  })
})

describe("Upload.verifyDigest", () => {
  it("accepts any digest when none was expected", () => {
    expect(Either.isRight(Upload.verifyDigest(undefined, SHA_A))).toBe(true)
  })

  it("accepts the expected digest", () => {
    expect(Either.isRight(Upload.verifyDigest(SHA_A, SHA_A))).toBe(true)
  })

  it("refuses another digest, stating both and that the upload is discarded", () => {
    expect(Upload.verifyDigest(SHA_A, SHA_B)).toEqual(
      Either.left({ code: "checksum_mismatch", message: `Checksum mismatch: the received bytes have sha256 ${SHA_B}, not ${SHA_A}; upload discarded` })
    )
  })
})

/** A chunk of `text`'s bytes at `offset`: as a file_chunk, or as Messages.decodeFrame hands over one it decoded in place. */
const chunkForms: ReadonlyArray<readonly [string, (base64: string, offset: number) => ClientMessage | ChunkBytes]> = [
  ["a file_chunk", chunkAt],
  ["a chunk decoded in place", (base64, offset) => ({ type: "chunk_bytes", bytes: Buffer.from(base64, "base64"), offset })]
]

describe.each(chunkForms)("Upload.transition: chunk offsets, on %s", (_form, chunkAt) => {
  const three = Buffer.from("abc").toString("base64")

  it("accepts a chunk at the current offset", () => {
    const receiving = stateAfter(meta("a.txt", 10), chunkBytes(3))
    const append = expectTag(step(receiving, chunkAt(three, 3)), "Append")
    expect(Buffer.from(append.bytes).toString("latin1")).toBe("abc")
    expect(append.next).toMatchObject({ _tag: "Receiving", received: 6 })
  })

  it("accepts offset 0 for the first chunk", () => {
    expectTag(run(meta("a.txt", 10), chunkAt(three, 0)), "Append")
  })

  it.each([
    ["behind (a retransmission)", 0],
    ["ahead (a lost chunk)", 6],
    ["far ahead", 1_000_000]
  ])("refuses a chunk %s with the expected offset, leaving the state unchanged", (_label, offset) => {
    const receiving = stateAfter(meta("a.txt", 10), chunkBytes(3))
    const refuse = expectTag(step(receiving, chunkAt(three, offset)), "Refuse")
    expect(refuse.refusal.message).toBe(
      `Chunk offset ${offset} is not where the upload is: the server has 3 bytes; send the chunk at offset 3`
    )
    expect(refuse.discard).toBe(false)
    expect(refuse.next).toBe(receiving)
  })

  it("refuses a chunk with an offset when no upload is open with NO_UPLOAD", () => {
    expect(expectTag(step(Upload.initial, chunkAt(three, 0)), "Refuse").refusal.message).toBe(Upload.NO_UPLOAD)
    expect(expectTag(step(Upload.initial, chunkAt(three, 7)), "Refuse").refusal.message).toBe(Upload.NO_UPLOAD)
  })

  it("still checks the size for a chunk at the right offset", () => {
    const receiving = stateAfter(meta("a.txt", 4), chunkBytes(3))
    const refuse = expectTag(step(receiving, chunkAt(three, 3)), "Refuse")
    expect(refuse.discard).toBe(true)
    expect(refuse.next._tag).toBe("Idle")
  })
})

describe("Upload.transition: chunk offsets, on a file_chunk's text", () => {
  it("checks the offset before the chunk's content", () => {
    const receiving = stateAfter(meta("a.txt", 10), chunkBytes(3))
    expect(expectTag(step(receiving, chunkAt("YQ=A", 0)), "Refuse").refusal.message).toContain("send the chunk at offset 3")
  })
})

describe("Upload.transition: cancel", () => {
  it("cancels the open upload and returns to Idle", () => {
    const cancelled = expectTag(run(meta("a.txt", 10), chunkBytes(3), cancel), "Cancel")
    expect(cancelled.next._tag).toBe("Idle")
  })

  it("cancels an upload that has no bytes yet", () => {
    expect(expectTag(run(meta("a.txt", 10), cancel), "Cancel").next).toEqual(Upload.UploadState.Idle())
  })

  it("refuses a cancel when idle with NO_UPLOAD", () => {
    const refuse = expectTag(step(Upload.initial, cancel), "Refuse")
    expect(refuse.refusal.message).toBe(Upload.NO_UPLOAD)
    expect(refuse.discard).toBe(false)
    expect(refuse.next._tag).toBe("Idle")
  })

  it("refuses a cancel after the upload completed with NO_UPLOAD, keeping Completed", () => {
    const completed = stateAfter(meta("a.txt", 1), chunkBytes(1))
    const refuse = expectTag(step(completed, cancel), "Refuse")
    expect(refuse.refusal.message).toBe(Upload.NO_UPLOAD)
    expect(refuse.discard).toBe(false)
    expect(refuse.next).toBe(completed)
  })

  it("a chunk after a cancel is refused with NO_UPLOAD", () => {
    expect(expectTag(run(meta("a.txt", 10), cancel, chunkBytes(1)), "Refuse").refusal.message).toBe(Upload.NO_UPLOAD)
  })
})

// ---------------------------------------------------------------------------
// Property-based (fast-check): random message sequences, fixed seed

const FILE_NAMES = [
  "a.txt", "report.pdf", "Photo.PDF", "../../x.txt", "C:\\dir\\y.pdf", "résumé.txt",
  "noext", "a.", ".txt", "...", "", "setup.exe", "$.txt", `${"a".repeat(300)}.txt`
] as const
const INVALID_BASE64 = ["YQ=A", "YQ==YQ==", "YW!j", "====", "Y===", "YW-j", "YW_j", "YWJ", "YW Jj", "YWJj\n"] as const

const SHA256S = [undefined, SHA_A, SHA_B, SHA_A.toUpperCase()] as const
const UPLOAD_IDS = [UPLOAD_ID, "z".repeat(22)] as const

/**
 * A chunk's offset, relative to where the upload stands when it is sent (so
 * that right, off-by-one and absent offsets are all common), or absolute.
 */
type OffsetChoice = "absent" | "current" | "ahead" | "behind" | { readonly absolute: number }

/** A message to send, with what depends on the state (offsets) left symbolic. */
type Planned =
  | { readonly kind: "message"; readonly message: ClientMessage | ChunkBytes }
  | { readonly kind: "chunk"; readonly chunk: string; readonly offset: OffsetChoice }

const offsetChoice: fc.Arbitrary<OffsetChoice> = fc.oneof(
  fc.constantFrom<OffsetChoice>("absent", "absent", "current", "current", "ahead", "behind"),
  fc.record({ absolute: fc.oneof(fc.nat(12), fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER)) })
)

const fileName = fc.oneof(
  { arbitrary: fc.constantFrom("a.txt", "report.pdf", "Photo.PDF", "../../x.txt", "C:\\dir\\y.pdf", "résumé.txt"), weight: 8 },
  { arbitrary: fc.constantFrom(...FILE_NAMES), weight: 2 },
  { arbitrary: fc.string(), weight: 1 },
  { arbitrary: fc.string({ unit: "grapheme" }).map((s) => `${s}.txt`), weight: 1 }
)
const fileSize = fc.oneof(
  { arbitrary: fc.constantFrom(0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 1000, Number.MAX_SAFE_INTEGER), weight: 2 },
  { arbitrary: fc.nat(12), weight: 8 },
  { arbitrary: fc.maxSafeNat(), weight: 1 }
)

const planned: fc.Arbitrary<Planned> = fc.oneof(
  fc.record({
    file_name: fileName,
    file_size: fileSize,
    sha256: fc.constantFrom(...SHA256S),
    upload_id: fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 4 },
      { arbitrary: fc.oneof(fc.constantFrom(...UPLOAD_IDS), fc.string()), weight: 1 }
    )
  }).map(({ sha256, upload_id, ...fields }): Planned => ({
    kind: "message",
    message: {
      type: "file_meta",
      ...fields,
      ...(sha256 === undefined ? {} : { sha256 }),
      ...(upload_id === undefined ? {} : { upload_id })
    }
  })),
  fc.uint8Array({ maxLength: 12 }).map((bytes): Planned => ({ kind: "message", message: { type: "chunk_bytes", bytes } })),
  fc.uint8Array({ maxLength: 12 }).map((bytes): Planned => ({ kind: "message", message: { type: "chunk_bytes", bytes } })),
  fc.record({
    chunk: fc.oneof(
      { arbitrary: fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b).toString("base64")), weight: 6 },
      { arbitrary: fc.constantFrom(...INVALID_BASE64), weight: 1 },
      { arbitrary: fc.string(), weight: 1 }
    ),
    offset: offsetChoice
  }).map(({ chunk, offset }): Planned => ({ kind: "chunk", chunk, offset })),
  fc.constant<Planned>({ kind: "message", message: cancel })
)

/** The message `plan` stands for in `state`. */
const resolve = (plan: Planned, state: UploadState): ClientMessage | ChunkBytes => {
  if (plan.kind === "message") return plan.message
  const current = state._tag === "Receiving" ? state.received : 0
  const offset = typeof plan.offset === "object"
    ? plan.offset.absolute
    : { absent: undefined, current, ahead: current + 1, behind: Math.max(0, current - 1) }[plan.offset]
  return offset === undefined ? chunkText(plan.chunk) : chunkAt(plan.chunk, offset)
}

/** How the application answers a Resume: the original upload (same or another name) and the bytes it holds. */
const resumeAnswer = fc.record({ sameFile: fc.boolean(), sameSha: fc.boolean(), heldFraction: fc.double({ min: 0, max: 1.2, noNaN: true }) })

/** Where a chunk message says it belongs, if it does. */
const offsetOf = (message: ClientMessage | ChunkBytes): number | undefined =>
  message.type === "file_chunk" ? message.offset : undefined

/** Checks one step against the protocol's invariants; returns a description of the first violation. */
const violation = (before: UploadState, message: ClientMessage | ChunkBytes, result: Step): string | undefined => {
  const offset = offsetOf(message)
  const misplaced = before._tag === "Receiving" && offset !== undefined && offset !== before.received
  if (misplaced && result._tag !== "Refuse") return `${result._tag} of a chunk at the wrong offset`
  if (result._tag === "Resume") {
    if (message.type !== "file_meta" || message.upload_id === undefined) return "Resume without an upload_id"
    if (result.uploadId !== message.upload_id) return "Resume of another upload_id"
    if (result.fileName !== message.file_name || result.size !== message.file_size) return "Resume changed name or size"
    if (result.size > policy.maxFileBytes) return "Resume of a file over the limit"
    if (result.expectedSha256 !== message.sha256?.toLowerCase()) return "Resume lost the sha256"
    if (result.replaces !== (before._tag === "Receiving")) return "replaces is not 'was receiving'"
    return undefined
  }
  const after = result.next
  if (after._tag === "Receiving") {
    if (!(after.received <= after.size)) return "Receiving.received > size"
    if (after.received === after.size) return "Receiving with received === size (should be Completed)"
    if (after.size > policy.maxFileBytes) return "Receiving a file over the limit"
  }
  switch (result._tag) {
    case "Append": {
      if (before._tag !== "Receiving") return `Append in ${before._tag}`
      if (message.type === "file_meta" || message.type === "cancel") return `Append on ${message.type}`
      const received = before.received + result.bytes.length
      if (result.bytes.length > policy.maxChunkBytes) return "Append of a chunk over maxChunkBytes"
      if (result.completed !== (received === before.size)) return "completed is not received === size"
      if (result.completed !== (after._tag === "Completed")) return "completed disagrees with next state"
      if (after._tag === "Receiving" && after.received !== received) return "received not counted"
      if (after._tag === "Receiving" && after.received < before.received) return "received decreased"
      if (after._tag === "Receiving" && after.file !== before.file) return "file changed within an upload"
      if (after._tag === "Receiving" && after.expectedSha256 !== before.expectedSha256) return "sha256 changed within an upload"
      return undefined
    }
    case "Start":
      if (message.type !== "file_meta") return `Start on ${message.type}`
      if (message.upload_id !== undefined) return "Start on a resume request"
      if (result.replaces !== (before._tag === "Receiving")) return "replaces is not 'was receiving'"
      if (result.completed !== (message.file_size === 0)) return "completed is not size === 0"
      if (result.completed !== (after._tag === "Completed")) return "completed disagrees with next state"
      if (after._tag === "Receiving" && (after.received !== 0 || after.size !== message.file_size)) {
        return "new upload does not start at 0 of the declared size"
      }
      if (after._tag === "Receiving" && after.expectedSha256 !== message.sha256?.toLowerCase()) return "sha256 not kept"
      return undefined
    case "Cancel":
      if (message.type !== "cancel") return `Cancel on ${message.type}`
      if (before._tag !== "Receiving") return `Cancel in ${before._tag}`
      if (after._tag !== "Idle") return "Cancel not returning to Idle"
      return undefined
    case "Refuse":
      if (result.discard && before._tag !== "Receiving") return "discard without an open upload"
      if (result.discard && after._tag !== "Idle") return "discard without returning to Idle"
      if (!result.discard && before._tag === "Receiving" && after !== before) {
        return "refusal without discard changed the open upload"
      }
      if (result.refusal.message === "") return "empty refusal message"
      if (misplaced && before._tag === "Receiving") {
        if (result.discard) return "a misplaced chunk discarded the upload"
        if (!result.refusal.message.endsWith(`send the chunk at offset ${before.received}`)) return "misplaced chunk without the expected offset"
      }
      if (message.type === "cancel" && result.refusal.message !== Upload.NO_UPLOAD) return "cancel refused for another reason than NO_UPLOAD"
      return undefined
  }
}

/**
 * What the application makes of a Resume step: it finds the original upload
 * (usually the same name and size, sometimes not) holding some bytes, and
 * continues in the resumed state (completing it when every byte is held), or
 * refuses and is Idle.
 */
const applyResume = (result: Step & { readonly _tag: "Resume" }, answer: typeof resumeAnswer extends fc.Arbitrary<infer A> ? A : never): UploadState => {
  const held = Math.min(Math.floor(answer.heldFraction * result.size), Number.MAX_SAFE_INTEGER)
  const original: Upload.ResumableUpload = answer.sameFile
    ? { fileName: result.fileName, size: result.size, expectedSha256: answer.sameSha ? result.expectedSha256 : SHA_A }
    : { fileName: "other.txt", size: result.size, expectedSha256: undefined }
  return Either.match(Upload.resumed(result, original, held), {
    onLeft: () => Upload.initial,
    onRight: (state) =>
      state._tag === "Receiving" && state.received === state.size ? Upload.UploadState.Completed({ file: state.file }) : state
  })
}

/** Fixed in CI so failures reproduce; FUZZ_SEED picks another, FUZZ_RUNS scales the run count. */
const fuzzSeed = Number(process.env["FUZZ_SEED"] ?? 0x5eed)
const fuzzRuns = Number(process.env["FUZZ_RUNS"] ?? 3000)

describe("Upload.transition on random sequences (fast-check)", () => {
  it("never throws and keeps the invariants for any message sequence", () => {
    const seen = { Start: 0, Append: 0, Refuse: 0, Resume: 0, Cancel: 0, completed: 0, misplaced: 0, resumedReceiving: 0 }
    fc.assert(
      fc.property(fc.array(fc.tuple(planned, resumeAnswer), { minLength: 5, maxLength: 40 }), (plans) => {
        let state = Upload.initial
        // A model of the store: bytes appended to the open upload since it started or resumed.
        let stored = 0
        for (const [plan, answer] of plans) {
          const message = resolve(plan, state)
          const result = Upload.transition(state, message, policy)
          const problem = violation(state, message, result)
          if (problem !== undefined) throw new Error(`${problem} on ${JSON.stringify(message)} in ${JSON.stringify(state)}`)
          seen[result._tag]++
          if ((result._tag === "Start" || result._tag === "Append") && result.completed) seen.completed++
          const offset = offsetOf(message)
          if (state._tag === "Receiving" && offset !== undefined && offset !== state.received) seen.misplaced++
          if (result._tag === "Resume") {
            state = applyResume(result, answer)
            stored = state._tag === "Receiving" ? state.received : 0
            if (state._tag === "Receiving") seen.resumedReceiving++
            continue
          }
          if (result._tag === "Append") {
            stored += result.bytes.length
            // Completed only when every declared byte is stored.
            if (state._tag !== "Receiving" || result.completed !== (stored === state.size)) throw new Error("completed is not stored === size")
          }
          if (result._tag === "Start") stored = 0
          // A refusal never changes the stored byte count, unless it discards the upload.
          if (result._tag === "Refuse" && !result.discard && result.next._tag === "Receiving" && result.next.received !== stored) {
            throw new Error("a refusal changed the stored byte count")
          }
          state = result.next
          if (state._tag === "Receiving" && state.received !== stored) throw new Error(`received ${state.received} but ${stored} stored`)
          if (state._tag === "Receiving" && state.received >= state.size) throw new Error("received reached the size without completing")
          if (state._tag !== "Receiving") stored = 0
        }
      }),
      { seed: fuzzSeed, numRuns: fuzzRuns }
    )
    // The generator must actually exercise every kind of step.
    expect(seen.Start).toBeGreaterThan(1000)
    expect(seen.Append).toBeGreaterThan(1000)
    expect(seen.Refuse).toBeGreaterThan(1000)
    expect(seen.completed).toBeGreaterThan(100)
    expect(seen.Resume).toBeGreaterThan(100)
    expect(seen.resumedReceiving).toBeGreaterThan(50)
    expect(seen.Cancel).toBeGreaterThan(100)
    expect(seen.misplaced).toBeGreaterThan(100)
  })
})
