/**
 * The wire protocol: decoding client text frames into messages (or one short
 * user-facing sentence) and the exact shape of the server's replies.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import fc from "fast-check"
import * as FileName from "../../src/domain/FileName.js"
import * as Messages from "../../src/domain/Messages.js"
import * as Refusal from "../../src/domain/Refusal.js"
import * as Upload from "../../src/domain/Upload.js"

/** The decoded message, or a test failure carrying the error text. */
const decoded = (text: string): Messages.ClientMessage =>
  Either.getOrThrowWith(Messages.decodeText(text), (reason) => new Error(`refused: ${reason}`))

/** The error text, or a test failure carrying the decoded message. */
const refusal = (text: string): string =>
  Either.match(Messages.decodeText(text), {
    onLeft: (reason) => reason.message,
    onRight: (message) => {
      throw new Error(`decoded: ${JSON.stringify(message)}`)
    }
  })

const meta = (fields: Record<string, unknown>): string =>
  JSON.stringify({ type: "file_meta", file_name: "a.txt", file_size: 3, ...fields })

describe("Messages.decodeText", () => {
  it("decodes a file_meta message", () => {
    expect(decoded(meta({ file_name: "report.pdf", file_size: 1024 }))).toEqual({
      type: "file_meta",
      file_name: "report.pdf",
      file_size: 1024
    })
  })

  it("decodes a file_meta message with size 0", () => {
    const message = decoded(meta({ file_size: 0 }))
    expect(message.type === "file_meta" && message.file_size).toBe(0)
  })

  it("decodes the largest safe integer as a file size", () => {
    const message = decoded(meta({ file_size: Number.MAX_SAFE_INTEGER }))
    expect(message.type === "file_meta" && message.file_size).toBe(Number.MAX_SAFE_INTEGER)
  })

  it("decodes a file_chunk message", () => {
    expect(decoded(JSON.stringify({ type: "file_chunk", chunk: "YWJj" }))).toEqual({
      type: "file_chunk",
      chunk: "YWJj"
    })
  })

  it("ignores extra fields on file_meta", () => {
    expect(decoded(meta({ extra: true, nested: { x: 1 } }))).toEqual({
      type: "file_meta",
      file_name: "a.txt",
      file_size: 3
    })
  })

  it("ignores extra fields on file_chunk", () => {
    expect(decoded(JSON.stringify({ type: "file_chunk", chunk: "YQ==", seq: 7 }))).toEqual({
      type: "file_chunk",
      chunk: "YQ=="
    })
  })

  it.each([
    ["-1", -1],
    ["1.5", 1.5],
    ['"3"', "3"],
    ["1e300", 1e300],
    ["2**53", 2 ** 53],
    ["null", null],
    ["true", true]
  ])("refuses file_size %s as not a non-negative integer", (_label, fileSize) => {
    expect(refusal(meta({ file_size: fileSize }))).toBe("file_size: expected a non-negative integer")
  })

  it.each([
    ['""', ""],
    ["5", 5],
    ["null", null],
    ["[]", []]
  ])("refuses file_name %s as not a non-empty string", (_label, fileName) => {
    expect(refusal(meta({ file_name: fileName }))).toBe("file_name: expected a non-empty string")
  })

  it("says a missing file_name is required", () => {
    expect(refusal(JSON.stringify({ type: "file_meta", file_size: 3 }))).toBe("file_name: is required")
  })

  it("says a missing file_size is required", () => {
    expect(refusal(JSON.stringify({ type: "file_meta", file_name: "a.txt" }))).toBe("file_size: is required")
  })

  it("says a missing chunk is required", () => {
    expect(refusal(JSON.stringify({ type: "file_chunk" }))).toBe("chunk: is required")
  })

  it("names the chunk field when it is not a string", () => {
    expect(refusal(JSON.stringify({ type: "file_chunk", chunk: 5 }))).toMatch(/^chunk: /)
  })

  it.each(["not json", "{", "", "[1,2]", "[]", "null", "42", '"file_meta"', "true"])(
    "refuses %j as not a JSON object",
    (text) => {
      expect(refusal(text)).toBe("Invalid message: expected a JSON object")
    }
  )

  it("says the type field is required when it is missing", () => {
    expect(refusal(JSON.stringify({ file_name: "a.txt", file_size: 3 }))).toContain("type")
  })

  it("mentions an unknown type in the error", () => {
    const message = refusal(JSON.stringify({ type: "file_delete", file_name: "a.txt" }))
    expect(message).toContain("Unknown message type")
    expect(message).toContain("file_delete")
  })

  it("shortens a very long unknown type", () => {
    expect(refusal(JSON.stringify({ type: "x".repeat(10_000) })).length).toBeLessThan(200)
  })

  it("decodes file_meta with the upload_id of a resume and the expected sha256", () => {
    const uploadId = "A-_z".repeat(6)
    const sha256 = "ab".repeat(32)
    expect(decoded(meta({ upload_id: uploadId, sha256 }))).toEqual({
      type: "file_meta",
      file_name: "a.txt",
      file_size: 3,
      upload_id: uploadId,
      sha256
    })
  })

  it.each([
    ["the shortest id (22 characters)", "a".repeat(22)],
    ["the longest id (64 characters)", "Z9_-".repeat(16)],
    ["a 24-character base64url id", "aB3_-xYz0123456789abcdEF"]
  ])("accepts %s as an upload_id", (_label, uploadId) => {
    const message = decoded(meta({ upload_id: uploadId }))
    expect(message.type === "file_meta" && message.upload_id).toBe(uploadId)
  })

  it.each([
    ["too short (21 characters)", "a".repeat(21)],
    ["too long (65 characters)", "a".repeat(65)],
    ["empty", ""],
    ["with a space", `${"a".repeat(22)} `],
    ["with a slash", `${"a".repeat(22)}/..`],
    ["with base64 padding", `${"a".repeat(22)}==`],
    ["with a plus (base64, not base64url)", `${"a".repeat(22)}+`],
    ["non-ASCII", "é".repeat(24)],
    ["a number", 1234567890123456],
    ["null", null],
    ["an object", { id: "a".repeat(24) }]
  ])("refuses an upload_id that is %s", (_label, uploadId) => {
    expect(refusal(meta({ upload_id: uploadId }))).toBe("upload_id: expected the upload_id from meta_received")
  })

  it("keeps the sha256 as sent (either case)", () => {
    const upper = "AB".repeat(32)
    const message = decoded(meta({ sha256: upper }))
    expect(message.type === "file_meta" && message.sha256).toBe(upper)
  })

  it.each([
    ["63 digits", "a".repeat(63)],
    ["65 digits", "a".repeat(65)],
    ["a non-hex digit", `${"a".repeat(63)}g`],
    ["prefixed with 0x", `0x${"a".repeat(62)}`],
    ["base64 rather than hex", Buffer.alloc(32).toString("base64")],
    ["empty", ""],
    ["a number", 1234],
    ["null", null]
  ])("refuses a sha256 with %s", (_label, sha256) => {
    expect(refusal(meta({ sha256 }))).toBe("sha256: expected 64 hexadecimal digits")
  })

  it.each([0, 1, 65536, Number.MAX_SAFE_INTEGER])("decodes a file_chunk with offset %d", (offset) => {
    expect(decoded(JSON.stringify({ type: "file_chunk", chunk: "YQ==", offset }))).toEqual({
      type: "file_chunk",
      chunk: "YQ==",
      offset
    })
  })

  it.each([
    ["-1", -1],
    ["1.5", 1.5],
    ['"3"', "3"],
    ["2**53", 2 ** 53],
    ["null", null],
    ["true", true]
  ])("refuses chunk offset %s as not a non-negative integer", (_label, offset) => {
    expect(refusal(JSON.stringify({ type: "file_chunk", chunk: "YQ==", offset }))).toBe(
      "offset: expected a non-negative integer"
    )
  })

  it("decodes a cancel message, ignoring extra fields", () => {
    expect(decoded(JSON.stringify({ type: "cancel" }))).toEqual({ type: "cancel" })
    expect(decoded(JSON.stringify({ type: "cancel", upload_id: "a".repeat(24), why: "changed my mind" }))).toEqual({
      type: "cancel"
    })
  })

  it("lists cancel among the message types when the type is missing or unknown", () => {
    expect(refusal(JSON.stringify({}))).toBe(
      "Invalid message: the type field is required (file_meta, file_chunk or cancel)"
    )
    expect(refusal(JSON.stringify({ type: "cancle" }))).toBe(
      `Unknown message type: "cancle" (expected file_meta, file_chunk or cancel)`
    )
  })

  it("never leaks Schema internals into an error text", () => {
    const badFrames = [
      meta({ file_size: -1 }),
      meta({ file_size: "3" }),
      meta({ file_size: 1e300 }),
      meta({ file_size: { n: 1 } }),
      meta({ file_name: "" }),
      meta({ file_name: 5 }),
      meta({ file_name: ["a"] }),
      JSON.stringify({ type: "file_meta" }),
      JSON.stringify({ type: "file_chunk" }),
      JSON.stringify({ type: "file_chunk", chunk: 5 }),
      JSON.stringify({ type: "file_chunk", chunk: null }),
      JSON.stringify({ type: "file_chunk", chunk: "YQ==", offset: -1 }),
      JSON.stringify({ type: "file_chunk", chunk: "YQ==", offset: "0" }),
      meta({ upload_id: "short" }),
      meta({ upload_id: 5 }),
      meta({ sha256: "xyz" }),
      meta({ sha256: ["a".repeat(64)] }),
      JSON.stringify({ type: "cancel!" }),
      JSON.stringify({ type: 5 }),
      JSON.stringify({ type: null }),
      JSON.stringify({ type: ["file_meta"] }),
      JSON.stringify({ type: "other" }),
      JSON.stringify({}),
      "[]",
      "null",
      "nope"
    ]
    for (const frame of badFrames) {
      const message = refusal(frame)
      expect(message, frame).not.toContain("Expected")
      expect(message, frame).not.toContain("└")
      expect(message, frame).not.toContain("readonly")
      expect(message, frame).not.toContain("\n")
    }
  })
})

/** Keys that String(), template literals and JSON.stringify look up on an object, and keys that name its prototype. */
const HOSTILE_KEYS = ["toString", "valueOf", "toJSON", "__proto__", "constructor"] as const

/**
 * JSON text (raw, so a `__proto__` key stays an own key) of a value that may
 * be, or hold at any depth, objects with their own {@link HOSTILE_KEYS}.
 */
const hostileJson: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constantFrom("null", "true", "0", "-0", "1.5", "1e309", `""`, `"file_meta"`, `"YQ=="`, "{}", "[]"),
    fc.string().map((text) => JSON.stringify(text)),
    fc.array(tie("value"), { maxLength: 3 }).map((items) => `[${items.join(",")}]`),
    fc.array(fc.tuple(fc.constantFrom(...HOSTILE_KEYS, "type"), tie("value")), { maxLength: 3 }).map((entries) =>
      `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(",")}}`
    )
  )
})).value

/** An object with at least one of the {@link HOSTILE_KEYS} of its own, as JSON text. */
const hostileObject: fc.Arbitrary<string> = fc.tuple(
  fc.uniqueArray(fc.constantFrom(...HOSTILE_KEYS), { minLength: 1 }),
  fc.array(hostileJson, { minLength: 5, maxLength: 5 })
).map(([keys, values]) => `{${keys.map((key, index) => `${JSON.stringify(key)}:${values[index]}`).join(",")}}`)

const MESSAGE_FIELDS = ["file_name", "file_size", "chunk", "offset", "upload_id", "sha256"] as const

/** A message of each type, every field absent, well-formed, or hostile (raw JSON text). */
const hostileMessage: fc.Arbitrary<string> = fc.tuple(
  fc.oneof(fc.constantFrom(`"file_meta"`, `"file_chunk"`, `"cancel"`), hostileObject, hostileJson),
  fc.array(
    fc.tuple(
      fc.constantFrom(...MESSAGE_FIELDS, ...HOSTILE_KEYS),
      fc.oneof(hostileObject, hostileJson, fc.constantFrom(`"a.txt"`, "3", `"YQ=="`, `"${"a".repeat(24)}"`, `"${"ab".repeat(32)}"`))
    ),
    { maxLength: 8 }
  )
).map(([type, fields]) => `{${[`"type":${type}`, ...fields.map(([key, value]) => `${JSON.stringify(key)}:${value}`)].join(",")}}`)

describe("Messages.decodeText on hostile input", () => {
  it.each([
    [`{"type":{"toString":"file_meta"}}`, `{"toString":"file_meta"}`],
    [`{"type":{"toString":null}}`, `{"toString":null}`],
    [`{"type":{"valueOf":1,"toString":[]}}`, `{"valueOf":1,"toString":[]}`],
    [`{"type":[{"toString":1}]}`, `[{"toString":1}]`]
  ])("answers type %s with the unknown-type error", (text, shown) => {
    expect(refusal(text)).toBe(`Unknown message type: ${shown} (expected file_meta, file_chunk or cancel)`)
  })

  it.each([
    ["arrays", (depth: number) => `${"[".repeat(depth)}1${"]".repeat(depth)}`],
    ["objects", (depth: number) => `${"{\"toString\":".repeat(depth)}1${"}".repeat(depth)}`]
  ])("answers a type of 100,000 nested %s with the unknown-type error, shortened", (_label, nested) => {
    const value = nested(100_000)
    const message = refusal(`{"type":${value}}`)
    expect(message).toBe(`Unknown message type: ${value.slice(0, 64)} (expected file_meta, file_chunk or cancel)`)
  })

  it.each(MESSAGE_FIELDS)("answers a hostile object as %s with that field's error", (field) => {
    const type = field === "chunk" || field === "offset" ? "file_chunk" : "file_meta"
    const text = `{"type":"${type}","file_name":"a.txt","file_size":3,"chunk":"YQ==","${field}":{"toString":null,"valueOf":null}}`
    expect(refusal(text)).toMatch(new RegExp(`^${field}: expected `))
  })

  it("never throws, and refuses in one short line, for any message holding hostile objects in any field", () => {
    fc.assert(
      fc.property(hostileMessage, (text) => {
        for (const decoded of [Messages.decodeText(text), Messages.decodeFrame(Buffer.from(text))]) {
          if (Either.isLeft(decoded)) {
            const { code, message } = decoded.left
            expect(message, text).not.toBe("")
            expect(message, text).not.toContain("\n")
            expect(message, text).not.toContain("Expected")
            expect(message.length, text).toBeLessThan(300)
            expect(["invalid_message", "unknown_type"], text).toContain(code)
            expect(JSON.parse(Messages.error(decoded.left)), text).toEqual({ type: "error", message, code })
          }
        }
      }),
      { numRuns: 2000 }
    )
  })

  it("shows an unknown type exactly as JSON.stringify would, up to 64 characters", () => {
    fc.assert(
      fc.property(fc.jsonValue().filter((value) => !["file_meta", "file_chunk", "cancel"].includes(value as string)), (type) => {
        expect(refusal(JSON.stringify({ type }))).toBe(
          `Unknown message type: ${JSON.stringify(type).slice(0, 64)} (expected file_meta, file_chunk or cancel)`
        )
      })
    )
  })
})

describe("Messages replies", () => {
  const uploadId = "aB3_-xYz0123456789abcdEF"
  const sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
  const rateLimit = { messages: 1000, periodSeconds: 60 }

  it("metaReceived starts with the original {type, message} and adds the server's capabilities, upload id and offset after them", () => {
    const reply = JSON.parse(Messages.metaReceived({ maxChunkBytes: 262144, uploadId, offset: 0, rateLimit })) as Record<string, unknown>
    expect(Object.keys(reply)).toEqual(["type", "message", "max_chunk_bytes", "binary_chunks", "upload_id", "offset", "rate_limit"])
    expect(reply["type"]).toBe("meta_received")
    expect(reply["message"]).toBe("Ready to receive file")
    expect(reply["max_chunk_bytes"]).toBe(262144)
    expect(reply["binary_chunks"]).toBe(true)
    expect(reply["upload_id"]).toBe(uploadId)
    expect(reply["offset"]).toBe(0)
  })

  it("metaReceived for a resume carries the offset the server already holds", () => {
    const reply = JSON.parse(Messages.metaReceived({ maxChunkBytes: 1024, uploadId, offset: 123456, rateLimit })) as Record<string, unknown>
    expect(reply).toEqual({
      type: "meta_received",
      message: "Ready to receive file",
      max_chunk_bytes: 1024,
      binary_chunks: true,
      upload_id: uploadId,
      offset: 123456,
      rate_limit: { messages: 1000, period_seconds: 60 }
    })
  })

  it("the upload_id in meta_received decodes as the upload_id of a resume", () => {
    const reply = JSON.parse(Messages.metaReceived({ maxChunkBytes: 1024, uploadId, offset: 0, rateLimit })) as { upload_id: string }
    const message = decoded(meta({ upload_id: reply.upload_id }))
    expect(message.type === "file_meta" && message.upload_id).toBe(uploadId)
  })

  it("chunkReceived keeps {type, message} first and adds the bytes received so far", () => {
    const reply = JSON.parse(Messages.chunkReceived(65536)) as Record<string, unknown>
    expect(Object.keys(reply)).toEqual(["type", "message", "received"])
    expect(reply["type"]).toBe("chunk_received")
    expect(reply["message"]).toBe("Ready for next chunk")
    expect(reply["received"]).toBe(65536)
  })

  it("fileReceived has the keys type, message, extension, sha256 in that order, then the newer stored_name", () => {
    const reply = JSON.parse(Messages.fileReceived("a.pdf", "pdf", sha256)) as Record<string, unknown>
    expect(Object.keys(reply)).toEqual(["type", "message", "extension", "sha256", "stored_name"])
    expect(reply["type"]).toBe("file_received")
    expect(reply["sha256"]).toBe(sha256)
    expect(reply["stored_name"]).toBe("a.pdf")
  })

  it("fileReceived names the stored file and the extension in back-quotes", () => {
    const reply = JSON.parse(Messages.fileReceived("a.pdf", "pdf", sha256)) as Record<string, unknown>
    expect(reply["message"]).toBe("File a.pdf received successfully and file extension is `pdf`")
    expect(reply["extension"]).toBe("pdf")
  })

  it("fileReceived reports the stored name, not the requested one", () => {
    const reply = JSON.parse(Messages.fileReceived("report_1.PDF", "pdf", sha256)) as Record<string, unknown>
    expect(reply["message"]).toBe("File report_1.PDF received successfully and file extension is `pdf`")
  })

  it("uploadCancelled is {type: 'upload_cancelled', message}", () => {
    const reply = JSON.parse(Messages.uploadCancelled) as Record<string, unknown>
    expect(Object.keys(reply)).toEqual(["type", "message"])
    expect(reply).toEqual({ type: "upload_cancelled", message: "Upload cancelled and discarded" })
  })

  it("error(refusal) is {type: 'error', message, code}: the original's type and message first", () => {
    const reply = JSON.parse(Messages.error(Refusal.make("no_upload", "Something \"quoted\" went wrong"))) as Record<string, unknown>
    expect(Object.keys(reply)).toEqual(["type", "message", "code"])
    expect(reply).toEqual({ type: "error", message: "Something \"quoted\" went wrong", code: "no_upload" })
  })

  it("error(refusal) carries retry_after, in seconds, when the refusal knows it", () => {
    const reply = JSON.parse(Messages.error(Refusal.make("rate_limited", "Rate limit exceeded", 23))) as Record<string, unknown>
    expect(Object.keys(reply)).toEqual(["type", "message", "code", "retry_after"])
    expect(reply).toEqual({ type: "error", message: "Rate limit exceeded", code: "rate_limited", retry_after: 23 })
  })

  it("metaReceived announces the rate limit that applies, with the byte limit only when there is one", () => {
    const plain = JSON.parse(Messages.metaReceived({ maxChunkBytes: 1, uploadId, offset: 0, rateLimit })) as Record<string, unknown>
    expect(plain["rate_limit"]).toEqual({ messages: 1000, period_seconds: 60 })
    const withBytes = JSON.parse(Messages.metaReceived({ maxChunkBytes: 1, uploadId, offset: 0, rateLimit: { ...rateLimit, bytes: 5 } })) as Record<string, unknown>
    expect(withBytes["rate_limit"]).toEqual({ messages: 1000, period_seconds: 60, bytes: 5 })
  })

  it("internalError is an error reply with the code internal_error", () => {
    expect(JSON.parse(Messages.internalError)).toEqual({
      type: "error",
      message: "Internal server error: the message could not be handled",
      code: "internal_error"
    })
  })

  it("replies are single-line JSON text frames", () => {
    const replies = [
      Messages.metaReceived({ maxChunkBytes: 262144, uploadId, offset: 42, rateLimit }),
      Messages.chunkReceived(65536),
      Messages.fileReceived("a.pdf", "pdf", sha256),
      Messages.uploadCancelled,
      Messages.error(Refusal.make("invalid_message", "x\ny")),
      Messages.internalError
    ]
    for (const reply of replies) {
      expect(typeof reply).toBe("string")
      expect(reply).not.toContain("\n")
      expect(() => JSON.parse(reply)).not.toThrow()
    }
  })
})

describe("Messages.decodeFrame", () => {
  const frame = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value))
  const hello = Buffer.from("hello, world")
  const base64 = hello.toString("base64")
  const policy: Upload.UploadPolicy = { maxFileBytes: 1 << 20, maxChunkBytes: 1 << 19, allowedExtensions: ["txt"] }
  const file = Either.getOrThrow(FileName.validate("a.txt", policy.allowedExtensions))
  const states: ReadonlyArray<Upload.UploadState> = [
    Upload.UploadState.Idle(),
    Upload.UploadState.Receiving({ file, size: 1 << 20, received: 0, expectedSha256: undefined }),
    Upload.UploadState.Receiving({ file, size: 1 << 20, received: 12, expectedSha256: undefined }),
    Upload.UploadState.Receiving({ file, size: 12, received: 6, expectedSha256: undefined }),
    Upload.UploadState.Completed({ file })
  ]
  /** What the server does with `text` in each state: the fast path must do the same as JSON.parse and Schema. */
  const sameSteps = (text: string) => {
    for (const state of states) {
      const general = Either.map(Messages.decodeText(text), (message) => Upload.transition(state, message, policy))
      const fast = Either.map(Messages.decodeFrame(Buffer.from(text)), (message) => Upload.transition(state, message, policy))
      expect(fast, `${text.slice(0, 80)} in ${state._tag}`).toEqual(general)
    }
  }

  it("decodes a compact file_chunk in place, to its bytes", () => {
    const decoded = Messages.decodeFrame(frame({ type: "file_chunk", chunk: base64 }))
    expect(decoded).toEqual(Either.right({ type: "chunk_bytes", bytes: hello }))
  })

  it("decodes a compact file_chunk with an offset in place, keeping the offset", () => {
    expect(Messages.decodeFrame(frame({ type: "file_chunk", chunk: base64, offset: 12 }))).toEqual(
      Either.right({ type: "chunk_bytes", bytes: hello, offset: 12 })
    )
    expect(Messages.decodeFrame(frame({ type: "file_chunk", chunk: base64, offset: 0 }))).toEqual(
      Either.right({ type: "chunk_bytes", bytes: hello, offset: 0 })
    )
  })

  it("decodes a 256 KiB chunk in place to the same bytes as Node's decoder", () => {
    const bytes = Buffer.from(Array.from({ length: 256 * 1024 }, (_, index) => (index * 2654435761) >>> 24))
    const decoded = Messages.decodeFrame(frame({ type: "file_chunk", chunk: bytes.toString("base64") }))
    expect(Either.isRight(decoded) && decoded.right.type === "chunk_bytes" && Buffer.compare(decoded.right.bytes, bytes)).toBe(0)
  })

  it("leads to the same step as the general decoder for every shape, in every state", () => {
    const large = Buffer.alloc(100_000, 0xab).toString("base64")
    const texts = [
      `{"type":"file_chunk","chunk":"${base64}"}`,
      `{"type":"file_chunk","chunk":"${base64}","offset":12}`,
      `{"type":"file_chunk","chunk":"${base64}","offset":0}`,
      `{"type":"file_chunk","chunk":"${base64}","offset":7}`,
      `{"type":"file_chunk","chunk":"${large}"}`,
      `{"type":"file_chunk","chunk":"${large.slice(0, 80_000)}-${large.slice(80_001)}"}`,
      `{"type":"file_chunk","chunk":"${large.slice(0, 80_000)}=${large.slice(80_001)}"}`,
      `{"type":"file_chunk","chunk":"${large.slice(0, 80_000)} ${large.slice(80_001)}"}`,
      `{"type": "file_chunk", "chunk": "${base64}"}`,
      `{"chunk":"${base64}","type":"file_chunk"}`,
      `{"type":"file_chunk","chunk":"aGVsbG8\\/"}`,
      `{"type":"file_chunk","chunk":"aGVs\\"bG8"}`,
      `{"type":"file_chunk","chunk":"a"b"}`,
      `{"type":"file_chunk","chunk":"aGVs\\nbG8="}`,
      `{"type":"file_chunk","chunk":"aGVs\nbG8="}`,
      `{"type":"file_chunk","chunk":"aGVs\u0000bG8="}`,
      `{"type":"file_chunk","chunk":"YWJé"}`,
      `{"type":"file_chunk","chunk":"YW-j"}`,
      `{"type":"file_chunk","chunk":"YQ==YQ=="}`,
      `{"type":"file_chunk","chunk":"YWJ"}`,
      `{"type":"file_chunk","chunk":"${base64}"}  `,
      `{"type":"file_chunk","chunk":""}`,
      `{"type":"file_chunk","chunk":"`,
      `{"type":"file_chunk","chunk":"}`,
      `{"type":"file_chunk","chunk":"${base64}","offset":"12"}`,
      `{"type":"file_chunk","chunk":"${base64}","offset":012}`,
      `{"type":"file_chunk","chunk":"${base64}","offset":1.5}`,
      `{"type":"file_chunk","chunk":"${base64}","offset":1e3}`,
      `{"type":"file_chunk","chunk":"${base64}","offset":-1}`,
      `{"type":"file_chunk","chunk":"${base64}","offset":}`,
      `{"type":"file_chunk","chunk":"${base64}","offset":12,"offset":13}`,
      `{"type":"file_chunk","chunk":"${base64}","offset":1234567890123456}`,
      `{"type":"file_chunk","chunk":"${base64}","offset":99999999999999999999}`,
      `{"type":"file_chunk","chunk":"${base64}","extra":1}`,
      `{"type":"file_chunk","offset":0,"chunk":"${base64}"}`,
      JSON.stringify({ type: "file_meta", file_name: "a.txt", file_size: 3 }),
      JSON.stringify({ type: "file_meta", file_name: "a.txt", file_size: 3, upload_id: "a".repeat(24) }),
      JSON.stringify({ type: "cancel" }),
      "not json",
      "{}"
    ]
    for (const text of texts) sameSteps(text)
  })

  it("leads to the same step as the general decoder for any compact chunk text", () => {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ \\\"\u00e9"
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes).toString("base64")),
          fc.array(fc.constantFrom(...alphabet), { maxLength: 24 }).map((characters) => characters.join(""))
        ),
        fc.option(fc.nat({ max: 20 }), { nil: undefined }),
        (chunk, offset) => sameSteps(`{"type":"file_chunk","chunk":"${chunk}"${offset === undefined ? "" : `,"offset":${offset}`}}`)
      )
    )
  })
})
