/**
 * A directory's fsync shared by the callers that need it together: every
 * caller is answered only after a flush that began after it asked.
 */
import { describe, expect, it } from "vitest"
import * as DirectorySync from "../../../src/adapters/fs/DirectorySync.js"

/** A flush the test ends by hand, and a log of when each one began. */
const manualFlush = () => {
  const pending: Array<{ readonly resolve: () => void; readonly reject: (error: Error) => void }> = []
  let began = 0
  const flush = () =>
    new Promise<void>((resolve, reject) => {
      began++
      pending.push({ resolve, reject })
    })
  return { flush, pending, began: () => began }
}

const tick = () => new Promise((resolve) => setImmediate(resolve))

describe("DirectorySync", () => {
  it("one caller alone gets a flush of its own", async () => {
    const manual = manualFlush()
    const sync = DirectorySync.make(manual.flush)
    const done = sync()
    expect(manual.began()).toBe(1)
    manual.pending[0]!.resolve()
    await done
    expect(manual.began()).toBe(1)
  })

  it("callers that ask while a flush runs share the next one, which begins after it ends", async () => {
    const manual = manualFlush()
    const sync = DirectorySync.make(manual.flush)
    const answered: Array<string> = []
    const first = sync().then(() => answered.push("first"))
    // Their changes came after the running flush began: it cannot cover them.
    const second = sync().then(() => answered.push("second"))
    const third = sync().then(() => answered.push("third"))
    expect(manual.began()).toBe(1)
    manual.pending[0]!.resolve()
    await first
    await tick()
    expect(answered).toEqual(["first"])
    expect(manual.began()).toBe(2)
    manual.pending[1]!.resolve()
    await Promise.all([second, third])
    expect(answered).toEqual(["first", "second", "third"])
    // Three callers, two flushes; the next caller starts afresh.
    const fourth = sync()
    expect(manual.began()).toBe(3)
    manual.pending[2]!.resolve()
    await fourth
  })

  it("a failed flush fails the callers it was for, and the ones waiting get a flush of their own", async () => {
    const manual = manualFlush()
    const sync = DirectorySync.make(manual.flush)
    const first = sync()
    const second = sync()
    manual.pending[0]!.reject(new Error("EIO"))
    await expect(first).rejects.toThrow("EIO")
    await tick()
    expect(manual.began()).toBe(2)
    manual.pending[1]!.resolve()
    await expect(second).resolves.toBeUndefined()
  })
})
