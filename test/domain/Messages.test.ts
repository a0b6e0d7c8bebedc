/**
 * The wire protocol: decoding client text frames into messages (or one short
 * user-facing sentence) and the exact shape of the server's replies.
 */
import { describe, expect, it } from "@effect/vitest"
import { Either } from "effect"
import * as Base64 from "../../src/domain/Base64.js"
import * as Messages from "../../src/domain/Messages.js"

/** The decoded message, or a test failure carrying the error text. */
const decoded = (text: string): Messages.ClientMessage =>
  Either.getOrThrowWith(Messages.decodeText(text), (reason) => new Error(`refused: ${reason}`))

/** The error text, or a test failure carrying the decoded message. */
const refusal = (text: string): string =>
  Either.match(Messages.decodeText(text), {
    onLeft: (reason) => reason,
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

describe("Messages replies", () => {
  it("metaReceived starts with the original {type, message} and adds the server's capabilities after them", () => {
    const reply = JSON.parse(Messages.metaReceived({ maxChunkBytes: 262144 })) as Record<string, unknown>
    expect(Object.keys(reply)).toEqual(["type", "message", "max_chunk_bytes", "binary_chunks"])
    expect(reply["type"]).toBe("meta_received")
    expect(reply["message"]).toBe("Ready to receive file")
    expect(reply["max_chunk_bytes"]).toBe(262144)
    expect(reply["binary_chunks"]).toBe(true)
  })

  it("chunkReceived keeps {type, message} first and adds the bytes received so far", () => {
    const reply = JSON.parse(Messages.chunkReceived(65536)) as Record<string, unknown>
    expect(Object.keys(reply)).toEqual(["type", "message", "received"])
    expect(reply["type"]).toBe("chunk_received")
    expect(reply["message"]).toBe("Ready for next chunk")
    expect(reply["received"]).toBe(65536)
  })

  it("fileReceived has the keys type, message, extension in that order", () => {
    const reply = JSON.parse(Messages.fileReceived("a.pdf", "pdf")) as Record<string, unknown>
    expect(Object.keys(reply)).toEqual(["type", "message", "extension"])
    expect(reply["type"]).toBe("file_received")
  })

  it("fileReceived names the stored file and the extension in back-quotes", () => {
    const reply = JSON.parse(Messages.fileReceived("a.pdf", "pdf")) as Record<string, unknown>
    expect(reply["message"]).toBe("File a.pdf received successfully and file extension is `pdf`")
    expect(reply["extension"]).toBe("pdf")
  })

  it("fileReceived reports the stored name, not the requested one", () => {
    const reply = JSON.parse(Messages.fileReceived("report_1.PDF", "pdf")) as Record<string, unknown>
    expect(reply["message"]).toBe("File report_1.PDF received successfully and file extension is `pdf`")
  })

  it("error(m) is {type: 'error', message: m}", () => {
    const reply = JSON.parse(Messages.error("Something \"quoted\" went wrong")) as Record<string, unknown>
    expect(Object.keys(reply)).toEqual(["type", "message"])
    expect(reply["type"]).toBe("error")
    expect(reply["message"]).toBe("Something \"quoted\" went wrong")
  })

  it("replies are single-line JSON text frames", () => {
    for (const reply of [Messages.metaReceived, Messages.chunkReceived, Messages.fileReceived("a.pdf", "pdf"), Messages.error("x")]) {
      expect(reply).not.toContain("\n")
    }
  })
})

describe("Messages.decodeFrame", () => {
  const frame = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value))
  const base64 = Buffer.from("hello, world").toString("base64")

  it("reads a compact file_chunk straight from the frame", () => {
    expect(Messages.decodeFrame(frame({ type: "file_chunk", chunk: base64 }))).toEqual(
      Either.right({ type: "file_chunk", chunk: base64 })
    )
  })

  it("gives the same result as decodeText for every other shape", () => {
    const texts = [
      `{"type": "file_chunk", "chunk": "${base64}"}`,
      `{"chunk":"${base64}","type":"file_chunk"}`,
      `{"type":"file_chunk","chunk":"aGVsbG8\/"}`,
      `{"type":"file_chunk","chunk":"a"b"}`,
      `{"type":"file_chunk","chunk":"${base64}"}  `,
      `{"type":"file_chunk","chunk":""}`,
      `{"type":"file_chunk","chunk":"`,
      JSON.stringify({ type: "file_meta", file_name: "a.txt", file_size: 3 }),
      "not json",
      "{}"
    ]
    for (const text of texts) expect(Messages.decodeFrame(Buffer.from(text)), text).toEqual(Messages.decodeText(text))
  })

  it("hands non-ASCII chunk text over unchanged for the strict base64 check to refuse", () => {
    const decoded = Messages.decodeFrame(frame({ type: "file_chunk", chunk: "YWJ\u00e9" }))
    expect(Either.isRight(decoded) && decoded.right.type === "file_chunk" && Base64.decodeStrict(decoded.right.chunk)).toBe(undefined)
  })
})
