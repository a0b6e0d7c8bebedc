import { spawnSync } from "node:child_process"
import { closeSync, constants, fstatSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import * as FsCalls from "../../../src/adapters/fs/FsCalls.js"

const { O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_WRONLY } = constants

let dir: string
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "fr-calls-"))
})
afterEach(() => fs.rm(dir, { recursive: true, force: true }))

const isOpen = (fd: number) => {
  try {
    fstatSync(fd)
    return true
  } catch {
    return false
  }
}

describe("the file-system calls on Node's callback API", () => {
  it("a File is closed once however often close is called: a later close never closes the file that reused its descriptor", async () => {
    const first = await FsCalls.open(path.join(dir, "a"), O_WRONLY | O_CREAT | O_EXCL, 0o600)
    await first.close()
    await first.close()
    // The kernel hands out the lowest free descriptor: the next open usually gets the same number.
    const second = await FsCalls.open(path.join(dir, "b"), O_WRONLY | O_CREAT | O_EXCL, 0o600)
    await first.close()
    expect(isOpen(second.fd)).toBe(true)
    await second.writeText("still mine")
    await second.close()
    expect(await fs.readFile(path.join(dir, "b"), "utf8")).toBe("still mine")
  })

  it("writeText appends all of a text larger than one write, and readText reads it back whole", async () => {
    const file = path.join(dir, "text")
    const text = "0123456789abcdef".repeat(20_000)
    const writer = await FsCalls.open(file, O_WRONLY | O_APPEND | O_CREAT | O_EXCL, 0o600)
    await writer.writeText(text.slice(0, 1000))
    await writer.writeText(text.slice(1000))
    await writer.close()
    const reader = await FsCalls.open(file, O_RDONLY)
    const { size } = await reader.stat()
    expect(size).toBe(text.length)
    expect(await reader.readText(size)).toBe(text)
    await reader.close()
    // A file that ends before the size given (cut short since its fstat) reads as what it holds.
    const short = await FsCalls.open(file, O_RDONLY)
    expect(await short.readText(size + 100)).toBe(text)
    await short.close()
  })

  it("a call on a closed File fails with EBADF instead of reaching a descriptor number that is another file's now", async () => {
    const first = await FsCalls.open(path.join(dir, "a"), O_WRONLY | O_CREAT | O_EXCL, 0o600)
    await first.close()
    const second = await FsCalls.open(path.join(dir, "b"), O_WRONLY | O_CREAT | O_EXCL, 0o600)
    await expect(first.writeText("not for b")).rejects.toMatchObject({ code: "EBADF" })
    await expect(first.stat()).rejects.toMatchObject({ code: "EBADF" })
    await expect(first.sync()).rejects.toMatchObject({ code: "EBADF" })
    await second.close()
    expect(await fs.readFile(path.join(dir, "b"), "utf8")).toBe("")
  })

  it("a File dropped open has its descriptor closed when it is collected, with a warning", () => {
    const script = `
      import { fstatSync, constants } from "node:fs"
      import * as FsCalls from ${JSON.stringify(path.resolve("src/adapters/fs/FsCalls.ts"))}
      const leak = async () => (await FsCalls.open(${JSON.stringify(path.join(dir, "leak"))}, constants.O_WRONLY | constants.O_CREAT, 0o600)).fd
      const fd = await leak()
      for (let i = 0; i < 5; i++) { await new Promise((r) => setTimeout(r, 20)); globalThis.gc() }
      await new Promise((r) => setTimeout(r, 50))
      let open = true
      try { fstatSync(fd) } catch { open = false }
      console.log(JSON.stringify({ open }))
    `
    const result = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 })
    expect(JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}")).toEqual({ open: false })
    expect(result.stderr).toContain("Closing file descriptor")
  })

  it("a descriptor handed over is the new owner's: close leaves it open", async () => {
    const file = await FsCalls.open(path.join(dir, "c"), O_WRONLY | O_CREAT | O_EXCL, 0o600)
    const fd = file.handOver()
    await file.close()
    expect(isOpen(fd)).toBe(true)
    closeSync(fd)
  })

  it("errors carry the system's code, as fs/promises' do", async () => {
    await expect(FsCalls.lstat(path.join(dir, "missing"))).rejects.toMatchObject({ code: "ENOENT" })
    await fs.writeFile(path.join(dir, "taken"), "")
    await expect(FsCalls.open(path.join(dir, "taken"), O_WRONLY | O_CREAT | O_EXCL)).rejects.toMatchObject({ code: "EEXIST" })
    await expect(FsCalls.link(path.join(dir, "taken"), path.join(dir, "taken"))).rejects.toMatchObject({ code: "EEXIST" })
    await expect(FsCalls.unlink(path.join(dir, "missing"))).rejects.toMatchObject({ code: "ENOENT" })
  })
})
