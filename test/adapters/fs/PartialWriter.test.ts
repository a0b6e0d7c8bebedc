import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { constants } from "node:fs"
import * as FsCalls from "../../../src/adapters/fs/FsCalls.js"
import * as PartialWriter from "../../../src/adapters/fs/PartialWriter.js"

const { O_APPEND, O_CREAT, O_EXCL, O_WRONLY } = constants

/** A writer of `file`, opened as the store opens partial files (creating it, or `flags`). */
const create = async (file: string, options: { readonly mode: number; readonly flags?: number }) =>
  PartialWriter.fromHandle(await FsCalls.open(file, options.flags ?? (O_WRONLY | O_APPEND | O_CREAT | O_EXCL), options.mode))

let dir: string
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "fr-wb-"))
})
afterEach(() => fs.rm(dir, { recursive: true, force: true }))

describe("the partial file writer", () => {
  it("a write is done only once its bytes are in the file (what a reply may count)", async () => {
    const file = path.join(dir, "f")
    const writer = await create(file, { mode: 0o644 })
    for (let chunk = 1; chunk <= 8; chunk++) {
      await writer.write(Buffer.alloc(256 * 1024, chunk))
      // Read through another descriptor: the bytes are the operating system's, not this process's.
      expect((await fs.stat(file)).size).toBe(chunk * 256 * 1024)
    }
    await writer.finish({ sync: true })
  })

  it("writes asked for without waiting land in order, one after another", async () => {
    const file = path.join(dir, "f")
    const writer = await create(file, { mode: 0o644 })
    const writes = Array.from({ length: 32 }, (_, index) => writer.write(Buffer.alloc(64 * 1024 + index, index)))
    await Promise.all(writes)
    await writer.finish()
    const stored = await fs.readFile(file)
    let at = 0
    for (let index = 0; index < 32; index++) {
      const length = 64 * 1024 + index
      expect(stored.subarray(at, at + length).every((byte) => byte === index)).toBe(true)
      at += length
    }
    expect(stored.length).toBe(at)
  })

  it("frees a chunk that owns its whole buffer once it is written, and leaves views of shared buffers alone", async () => {
    const writer = await create(path.join(dir, "f"), { mode: 0o644 })
    // A ws frame of 256 KiB owns its ArrayBuffer; a slice of a socket read shares one.
    const owned = Buffer.alloc(256 * 1024, 1)
    const shared = Buffer.alloc(8 * 1024, 2)
    const view = shared.subarray(0, 4 * 1024)
    await writer.write(owned)
    await writer.write(view)
    await writer.finish()
    expect(owned.buffer.byteLength).toBe(0)
    expect(owned.length).toBe(0)
    expect(shared.length).toBe(8 * 1024)
    expect(shared.every((byte) => byte === 2)).toBe(true)
    const stored = await fs.readFile(path.join(dir, "f"))
    expect(stored.length).toBe(260 * 1024)
    expect(stored.subarray(0, 256 * 1024).every((byte) => byte === 1)).toBe(true)
    expect(stored.subarray(256 * 1024).every((byte) => byte === 2)).toBe(true)
  })

  it("refuses to open a file that exists", async () => {
    await fs.writeFile(path.join(dir, "taken"), "x")
    await expect(create(path.join(dir, "taken"), { mode: 0o644 })).rejects.toMatchObject({ code: "EEXIST" })
  })

  it("a failed write (ENOSPC on /dev/full) fails itself, finish and every later write", async () => {
    const writer = await create("/dev/full", { mode: 0o644, flags: O_WRONLY })
    await expect(writer.write(Buffer.alloc(1000))).rejects.toMatchObject({ code: "ENOSPC" })
    await expect(writer.write(Buffer.alloc(1))).rejects.toMatchObject({ code: "ENOSPC" })
    await expect(writer.finish()).rejects.toMatchObject({ code: "ENOSPC" })
  })

  it("writes queued behind a failed one fail with its error", async () => {
    const writer = await create("/dev/full", { mode: 0o644, flags: O_WRONLY })
    const results = await Promise.allSettled([writer.write(Buffer.alloc(100)), writer.write(Buffer.alloc(100))])
    expect(results.map((result) => result.status)).toEqual(["rejected", "rejected"])
    await writer.destroy()
  })

  it("refuses writes once finished", async () => {
    const writer = await create(path.join(dir, "f"), { mode: 0o644 })
    await writer.finish()
    await expect(writer.write(Buffer.alloc(1))).rejects.toThrow(/closed/)
  })
})
