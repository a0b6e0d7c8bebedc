/**
 * The upload protocol's pure transition: example steps for each rule, then a
 * seeded random walk over many message sequences checking the invariants.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Upload from "../../src/domain/Upload.js"
import type { ChunkBytes, Step, UploadPolicy, UploadState } from "../../src/domain/Upload.js"
import type { ClientMessage } from "../../src/domain/Messages.js"

const policy: UploadPolicy = { maxFileBytes: 10, maxChunkBytes: 8, allowedExtensions: ["txt", "pdf"] }

const meta = (fileName: string, fileSize: number): ClientMessage => ({
  type: "file_meta",
  file_name: fileName,
  file_size: fileSize
})
const chunkBytes = (length: number): ChunkBytes => ({ type: "chunk_bytes", bytes: new Uint8Array(length).fill(7) })
const chunkText = (chunk: string): ClientMessage => ({ type: "file_chunk", chunk })

const step = (state: UploadState, message: ClientMessage | ChunkBytes): Step =>
  Upload.transition(state, message, policy)

/** Runs `messages` from Idle and returns the last step. */
const run = (...messages: ReadonlyArray<ClientMessage | ChunkBytes>): Step => {
  let state = Upload.initial
  let last: Step | undefined
  for (const message of messages) {
    last = step(state, message)
    state = last.next
  }
  if (last === undefined) throw new Error("run needs at least one message")
  return last
}

/** The state after `messages`, from Idle. */
const stateAfter = (...messages: ReadonlyArray<ClientMessage | ChunkBytes>): UploadState => run(...messages).next

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
    expect(start.next).toEqual(Upload.UploadState.Receiving({ file: start.file, size: 4, received: 0 }))
  })

  it("completes a 0-byte file at once", () => {
    const start = expectTag(step(Upload.initial, meta("empty.txt", 0)), "Start")
    expect(start.completed).toBe(true)
    expect(start.next._tag).toBe("Completed")
  })

  it("refuses a chunk in Idle with NO_UPLOAD without discarding", () => {
    const refuse = expectTag(step(Upload.initial, chunkBytes(1)), "Refuse")
    expect(refuse.message).toBe(Upload.NO_UPLOAD)
    expect(refuse.discard).toBe(false)
    expect(refuse.next._tag).toBe("Idle")
  })

  it("refuses a base64 chunk in Idle with NO_UPLOAD", () => {
    const refuse = expectTag(step(Upload.initial, chunkText("YQ==")), "Refuse")
    expect(refuse.message).toBe(Upload.NO_UPLOAD)
  })

  it("refuses a chunk after the upload completed with NO_UPLOAD", () => {
    const refuse = expectTag(run(meta("a.txt", 2), chunkBytes(2), chunkBytes(1)), "Refuse")
    expect(refuse.message).toBe(Upload.NO_UPLOAD)
    expect(refuse.discard).toBe(false)
    expect(refuse.next._tag).toBe("Completed")
  })

  it("refuses a chunk after a 0-byte file with NO_UPLOAD", () => {
    expect(expectTag(run(meta("a.txt", 0), chunkBytes(1)), "Refuse").message).toBe(Upload.NO_UPLOAD)
  })

  it("refuses invalid base64 with INVALID_BASE64 and leaves the state unchanged", () => {
    const receiving = stateAfter(meta("a.txt", 4), chunkBytes(1))
    const refuse = expectTag(step(receiving, chunkText("YQ=A")), "Refuse")
    expect(refuse.message).toBe(Upload.INVALID_BASE64)
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
    expect(refuse.message.startsWith("Chunk exceeds the declared file size (4 bytes)")).toBe(true)
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
    expect(refuse.message).toContain("Chunk too large")
    expect(refuse.discard).toBe(false)
    expect(refuse.next).toEqual(receiving)
  })

  it("accepts a chunk of exactly maxChunkBytes", () => {
    expectTag(run(meta("a.txt", 10), chunkBytes(8)), "Append")
  })

  it("refuses a file over the size limit", () => {
    const refuse = expectTag(step(Upload.initial, meta("a.txt", 11)), "Refuse")
    expect(refuse.message.startsWith("File too large")).toBe(true)
    expect(refuse.discard).toBe(false)
    expect(refuse.next._tag).toBe("Idle")
  })

  it("accepts a file of exactly the size limit", () => {
    const start = expectTag(step(Upload.initial, meta("a.txt", 10)), "Start")
    expect(start.next).toMatchObject({ _tag: "Receiving", size: 10, received: 0 })
  })

  it("refuses a meta with a bad file name with the policy's reason", () => {
    const refuse = expectTag(step(Upload.initial, meta("setup.exe", 3)), "Refuse")
    expect(refuse.message).toBe("Invalid file extension: exe. Allowed: txt, pdf")
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
    expect(refuse.message.startsWith("File too large")).toBe(true)
    expect(refuse.discard).toBe(true)
    expect(refuse.next._tag).toBe("Idle")
  })
})

// ---------------------------------------------------------------------------
// Property-style: seeded random sequences

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
const mulberry32 = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const FILE_NAMES = [
  "a.txt", "report.pdf", "Photo.PDF", "../../x.txt", "C:\\dir\\y.pdf", "résumé.txt",
  "noext", "a.", ".txt", "...", "", "setup.exe", "$.txt", `${"a".repeat(300)}.txt`
] as const
const INVALID_BASE64 = ["YQ=A", "YQ==YQ==", "YW!j", "====", "Y===", "YW-j", "YW_j", "YWJ", "YW Jj", "YWJj\n"] as const

const randomMessage = (random: () => number): ClientMessage | ChunkBytes => {
  const below = (n: number): number => Math.floor(random() * n)
  const pick = <A>(items: ReadonlyArray<A>): A => items[below(items.length)] as A
  switch (below(4)) {
    case 0: {
      // Sizes a decoded file_meta can carry: small, at/over the limit, huge.
      const size = pick([0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 1000, Number.MAX_SAFE_INTEGER])
      return meta(pick(FILE_NAMES), size)
    }
    case 1:
      return chunkBytes(below(12))
    case 2:
      return chunkText(Buffer.alloc(below(12), 1).toString("base64"))
    default:
      return chunkText(pick(INVALID_BASE64))
  }
}

/** Checks one step against the protocol's invariants; returns a description of the first violation. */
const violation = (before: UploadState, message: ClientMessage | ChunkBytes, result: Step): string | undefined => {
  const after = result.next
  if (after._tag === "Receiving") {
    if (!(after.received <= after.size)) return "Receiving.received > size"
    if (after.received === after.size) return "Receiving with received === size (should be Completed)"
    if (after.size > policy.maxFileBytes) return "Receiving a file over the limit"
  }
  switch (result._tag) {
    case "Append": {
      if (before._tag !== "Receiving") return `Append in ${before._tag}`
      if (message.type === "file_meta") return "Append on file_meta"
      const received = before.received + result.bytes.length
      if (result.bytes.length > policy.maxChunkBytes) return "Append of a chunk over maxChunkBytes"
      if (result.completed !== (received === before.size)) return "completed is not received === size"
      if (result.completed !== (after._tag === "Completed")) return "completed disagrees with next state"
      if (after._tag === "Receiving" && after.received !== received) return "received not counted"
      if (after._tag === "Receiving" && after.received < before.received) return "received decreased"
      if (after._tag === "Receiving" && after.file !== before.file) return "file changed within an upload"
      return undefined
    }
    case "Start":
      if (message.type !== "file_meta") return "Start on a chunk"
      if (result.replaces !== (before._tag === "Receiving")) return "replaces is not 'was receiving'"
      if (result.completed !== (message.file_size === 0)) return "completed is not size === 0"
      if (result.completed !== (after._tag === "Completed")) return "completed disagrees with next state"
      if (after._tag === "Receiving" && (after.received !== 0 || after.size !== message.file_size)) {
        return "new upload does not start at 0 of the declared size"
      }
      return undefined
    case "Refuse":
      if (result.discard && before._tag !== "Receiving") return "discard without an open upload"
      if (result.discard && after._tag !== "Idle") return "discard without returning to Idle"
      if (!result.discard && before._tag === "Receiving" && after !== before) {
        return "refusal without discard changed the open upload"
      }
      if (result.message === "") return "empty refusal message"
      return undefined
  }
}

describe("Upload.transition on random sequences", () => {
  it("never throws and keeps the invariants over 2,000 seeded sequences of 30 messages", () => {
    const random = mulberry32(0x5eed)
    const seen = { Start: 0, Append: 0, Refuse: 0, completed: 0 }
    for (let sequence = 0; sequence < 2000; sequence++) {
      let state = Upload.initial
      const history: Array<string> = []
      for (let index = 0; index < 30; index++) {
        const message = randomMessage(random)
        history.push(message.type === "chunk_bytes" ? `chunk_bytes(${message.bytes.length})` : JSON.stringify(message))
        let result: Step
        try {
          result = Upload.transition(state, message, policy)
        } catch (error) {
          throw new Error(`sequence ${sequence} threw after ${history.join(", ")}: ${String(error)}`)
        }
        const problem = violation(state, message, result)
        if (problem !== undefined) {
          throw new Error(`sequence ${sequence}: ${problem} after ${history.join(", ")}`)
        }
        seen[result._tag]++
        if (result._tag !== "Refuse" && result.completed) seen.completed++
        state = result.next
      }
    }
    // The generator must actually exercise every kind of step.
    expect(seen.Start).toBeGreaterThan(1000)
    expect(seen.Append).toBeGreaterThan(1000)
    expect(seen.Refuse).toBeGreaterThan(1000)
    expect(seen.completed).toBeGreaterThan(100)
  })

  it("mulberry32 is deterministic for a seed", () => {
    const first = mulberry32(42)
    const second = mulberry32(42)
    const a = [first(), first(), first()]
    expect([second(), second(), second()]).toEqual(a)
    expect(a.every((x) => x >= 0 && x < 1)).toBe(true)
    expect(new Set(a).size).toBe(3)
  })
})
