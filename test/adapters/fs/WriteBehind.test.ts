import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import * as WriteBehind from "../../../src/adapters/fs/WriteBehind.js"

describe("WriteBehind", () => {
  it("accepts writes below the high-water mark at once and makes the caller wait above it", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "fr-wb-"))
    const writer = WriteBehind.make(await fs.open(path.join(dir, "f"), "wx"), 64 * 1024)
    expect(writer.write(Buffer.alloc(1024, 1))).toBeUndefined()
    const pending = writer.write(Buffer.alloc(128 * 1024, 2))
    expect(pending).toBeInstanceOf(Promise)
    await pending
    await writer.finish()
    expect((await fs.stat(path.join(dir, "f"))).size).toBe(129 * 1024)
    await fs.rm(dir, { recursive: true })
  })

  it("a failed write (ENOSPC on /dev/full) fails finish and every later write", async () => {
    const writer = WriteBehind.make(await fs.open("/dev/full", "w"), 1024 * 1024)
    expect(writer.write(Buffer.alloc(1000))).toBeUndefined()
    await expect(writer.finish()).rejects.toMatchObject({ code: "ENOSPC" })
    expect(() => writer.write(Buffer.alloc(1))).toThrow(/ENOSPC/)
  })

  it("a caller waiting for the drain learns of the failure", async () => {
    const writer = WriteBehind.make(await fs.open("/dev/full", "w"), 16)
    const pending = writer.write(Buffer.alloc(1000))
    await expect(pending).rejects.toMatchObject({ code: "ENOSPC" })
    await writer.destroy()
  })
})
