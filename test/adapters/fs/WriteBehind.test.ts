import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as WriteBehind from "../../../src/adapters/fs/WriteBehind.js"

describe("WriteBehind", () => {
  it("accepts writes below the high-water mark at once and makes the caller wait above it", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "fr-wb-"))
    const writer = await WriteBehind.create(path.join(dir, "f"), { highWaterMark: 64 * 1024, mode: 0o644 })
    expect(writer.write(Buffer.alloc(1024, 1))).toBeUndefined()
    const pending = writer.write(Buffer.alloc(128 * 1024, 2))
    expect(pending).toBeInstanceOf(Promise)
    await pending
    await writer.finish()
    expect((await fs.stat(path.join(dir, "f"))).size).toBe(129 * 1024)
    await fs.rm(dir, { recursive: true })
  })

  it("frees a chunk that owns its whole buffer once it is written, and leaves views of shared buffers alone", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "fr-wb-"))
    const writer = await WriteBehind.create(path.join(dir, "f"), { highWaterMark: 1024 * 1024, mode: 0o644 })
    // A ws frame of 256 KiB owns its ArrayBuffer; a slice of a socket read shares one.
    const owned = Buffer.alloc(256 * 1024, 1)
    const shared = Buffer.alloc(8 * 1024, 2)
    const view = shared.subarray(0, 4 * 1024)
    writer.write(owned)
    writer.write(view)
    await writer.finish()
    expect(owned.buffer.byteLength).toBe(0)
    expect(owned.length).toBe(0)
    expect(shared.length).toBe(8 * 1024)
    expect(shared.every((byte) => byte === 2)).toBe(true)
    const stored = await fs.readFile(path.join(dir, "f"))
    expect(stored.length).toBe(260 * 1024)
    expect(stored.subarray(0, 256 * 1024).every((byte) => byte === 1)).toBe(true)
    expect(stored.subarray(256 * 1024).every((byte) => byte === 2)).toBe(true)
    await fs.rm(dir, { recursive: true })
  })

  it("refuses to open a file that exists", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "fr-wb-"))
    await fs.writeFile(path.join(dir, "taken"), "x")
    await expect(WriteBehind.create(path.join(dir, "taken"), { highWaterMark: 1024, mode: 0o644 })).rejects.toMatchObject({ code: "EEXIST" })
    await fs.rm(dir, { recursive: true })
  })

  it("a failed write (ENOSPC on /dev/full) fails finish and every later write", async () => {
    const writer = await WriteBehind.create("/dev/full", { highWaterMark: 1024 * 1024, mode: 0o644, flags: "w" })
    expect(writer.write(Buffer.alloc(1000))).toBeUndefined()
    await expect(writer.finish()).rejects.toMatchObject({ code: "ENOSPC" })
    expect(() => writer.write(Buffer.alloc(1))).toThrow(/ENOSPC/)
  })

  it("the first write to fail after a failed one reports the failure (ENOSPC), even before the stream's error event", async () => {
    const writer = await WriteBehind.create("/dev/full", { highWaterMark: 1024 * 1024, mode: 0o644, flags: "w" })
    let thrown: unknown
    for (let attempt = 0; attempt < 10_000 && thrown === undefined; attempt++) {
      try {
        writer.write(Buffer.alloc(100))
      } catch (error) {
        thrown = error
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
    // The stream is destroyed as soon as the write fails, while it closes the file; 'error' comes after that.
    expect(String(thrown)).toMatch(/ENOSPC/)
    await writer.destroy()
  })

  it("a caller waiting for the drain learns of the failure", async () => {
    const writer = await WriteBehind.create("/dev/full", { highWaterMark: 16, mode: 0o644, flags: "w" })
    const pending = writer.write(Buffer.alloc(1000))
    await expect(pending).rejects.toMatchObject({ code: "ENOSPC" })
    await writer.destroy()
  })
})
