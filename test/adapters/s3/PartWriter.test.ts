/**
 * PartWriter against a recording target: parts of exactly the part size, at
 * most `concurrency` in flight, appends held back while the buffer is full,
 * part bodies reused, and parts that finish out of order.
 */
import { describe, expect, it } from "vitest"
import * as PartWriter from "../../../src/adapters/s3/PartWriter.js"

/** A target whose part uploads finish only when the test lets them. */
const recordingTarget = () => {
  const uploads: Array<{ partNumber: number; body: Buffer; content: string; finish: () => void }> = []
  let created = 0
  const target: PartWriter.PartTarget = {
    create: () => Promise.resolve(`upload-${++created}`),
    uploadPart: (_id, partNumber, body) =>
      new Promise((resolve) => uploads.push({ partNumber, body, content: body.toString(), finish: () => resolve(`etag-${partNumber}`) }))
  }
  return { target, uploads, created: () => created }
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 5))

describe("PartWriter", () => {
  it("keeps a file smaller than one part in memory and never starts a multipart upload", async () => {
    const { target, created } = recordingTarget()
    const writer = PartWriter.make(target, 8)
    expect(writer.write(Buffer.from("abc"))).toBeUndefined()
    expect(writer.write(Buffer.from("de"))).toBeUndefined()
    const finished = await writer.finish()
    expect(finished._tag === "Small" && finished.body.toString()).toBe("abcde")
    expect(created()).toBe(0)
  })

  it("sends parts of exactly the part size, one at a time, holding appends back while a full buffer waits", async () => {
    const { target, uploads } = recordingTarget()
    const writer = PartWriter.make(target, 4)
    expect(writer.write(Buffer.from("abcdef"))).toBeUndefined() // part 1 (abcd) goes out, "ef" stays
    await tick()
    expect(uploads.map((u) => u.content)).toEqual(["abcd"])
    const held = writer.write(Buffer.from("gh")) // "efgh" is a full part, but part 1 is still in flight
    expect(held).toBeInstanceOf(Promise)
    let released = false
    void held!.then(() => (released = true))
    await tick()
    expect(released).toBe(false)
    expect(uploads).toHaveLength(1)
    uploads[0]!.finish()
    await held
    await tick()
    expect(uploads.map((u) => u.content)).toEqual(["abcd", "efgh"])
    // The second part went out in the first part's body: one buffer for the whole upload.
    expect(uploads[1]!.body).toBe(uploads[0]!.body)
    uploads[1]!.finish()
    writer.write(Buffer.from("ij"))
    const finishing = writer.finish()
    await tick()
    uploads[2]!.finish()
    const finished = await finishing
    expect(finished).toEqual({
      _tag: "Multipart",
      uploadId: "upload-1",
      parts: [1, 2, 3].map((n) => ({ PartNumber: n, ETag: `etag-${n}` }))
    })
    expect(uploads[2]!.content).toBe("ij")
    expect(writer.written()).toBe(10)
  })

  it("frees a chunk it owns once it is copied into a part, and keeps one a part has only begun", async () => {
    const { target, uploads } = recordingTarget()
    const writer = PartWriter.make(target, 6000)
    // Chunks of their own buffer (over 4 KiB, so not from Node's pool), as ws hands them out.
    const first = Buffer.alloc(5000, "a")
    const second = Buffer.alloc(5000, "b")
    writer.write(first)
    writer.write(second) // part 1 takes all of `first` and the start of `second`
    await tick()
    expect(first.length).toBe(0)
    expect(second.length).toBe(5000)
    expect(uploads[0]!.content).toBe("a".repeat(5000) + "b".repeat(1000))
    uploads[0]!.finish()
    const finishing = writer.finish()
    await tick()
    uploads[1]?.finish()
    await finishing
    expect(uploads[1]!.content).toBe("b".repeat(4000))
  })

  it("a failed part fails the next append and finish", async () => {
    const writer = PartWriter.make({ create: () => Promise.resolve("u"), uploadPart: () => Promise.reject(new Error("gone")) }, 2)
    writer.write(Buffer.from("ab"))
    await tick()
    expect(() => writer.write(Buffer.from("c"))).toThrow("gone")
    await expect(writer.finish()).rejects.toThrow("gone")
  })

  it("destroy waits for the part in flight and gives the multipart upload to abort", async () => {
    const { target, uploads } = recordingTarget()
    const writer = PartWriter.make(target, 2)
    writer.write(Buffer.from("ab"))
    await tick()
    let destroyed: string | undefined
    const destroying = writer.destroy().then((id) => (destroyed = id))
    await tick()
    expect(destroyed).toBeUndefined()
    uploads[0]!.finish()
    await destroying
    expect(destroyed).toBe("upload-1")
    expect(() => writer.write(Buffer.from("c"))).toThrow("closed")
  })

  it("sends up to `concurrency` parts at once, holds appends back while all are in flight, and completes them in part order", async () => {
    const { target, uploads } = recordingTarget()
    const writer = PartWriter.make(target, 2, 3)
    expect(writer.write(Buffer.from("aabbcc"))).toBeUndefined() // three parts go out at once
    await tick()
    expect(uploads.map((u) => u.content)).toEqual(["aa", "bb", "cc"])
    const held = writer.write(Buffer.from("dd")) // a fourth full part, but three are in flight
    expect(held).toBeInstanceOf(Promise)
    await tick()
    expect(uploads).toHaveLength(3)
    // Part 2 finishes first: its slot goes to part 4.
    uploads[1]!.finish()
    await held
    await tick()
    expect(uploads.map((u) => u.partNumber)).toEqual([1, 2, 3, 4])
    writer.write(Buffer.from("e"))
    const finishing = writer.finish()
    for (const index of [3, 0, 2]) {
      uploads[index]!.finish()
      await tick()
    }
    uploads[4]!.finish()
    const finished = await finishing
    expect(finished).toEqual({ _tag: "Multipart", uploadId: "upload-1", parts: [1, 2, 3, 4, 5].map((n) => ({ PartNumber: n, ETag: `etag-${n}` })) })
    expect(uploads[4]!.content).toBe("e")
  })

  it("a writer that failed with parts in flight reports only the parts before the first gap as uploaded", async () => {
    const finishes: Array<(ok: boolean) => void> = []
    const target: PartWriter.PartTarget = {
      create: () => Promise.resolve("u"),
      uploadPart: (_id, partNumber) =>
        new Promise((resolve, reject) => finishes.push((ok) => (ok ? resolve(`etag-${partNumber}`) : reject(new Error(`part ${partNumber} failed`)))))
    }
    const writer = PartWriter.make(target, 2, 3)
    writer.write(Buffer.from("aabbcc"))
    await tick()
    finishes[0]!(true)
    finishes[1]!(false)
    finishes[2]!(true)
    await tick()
    await writer.destroy()
    expect(writer.uploaded()).toEqual({ uploadId: "u", parts: [{ PartNumber: 1, ETag: "etag-1" }], bytes: 2 })
  })
})
