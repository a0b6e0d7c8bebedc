/**
 * The rule for libuv's pool size (src/wiring/ThreadPool.ts); that the started
 * server gets it is test/deploy/start.test.ts's, and that `file-receiver
 * serve` passes it on is test/cli's.
 */
import { describe, expect, it } from "vitest"
import { NODE_DEFAULT_THREADS, threadPoolSize } from "../../src/wiring/ThreadPool.js"

describe("threadPoolSize", () => {
  it("keeps what the operator set", () => {
    expect(threadPoolSize("1", 2)).toBe("1")
    expect(threadPoolSize("16", 2)).toBe("16")
  })

  it("gives one thread per core when unset, at least 2 and at most Node's default", () => {
    expect([1, 2, 3, 4, 8, 64].map((cores) => threadPoolSize(undefined, cores))).toEqual(["2", "2", "3", "4", "4", "4"])
    expect(NODE_DEFAULT_THREADS).toBe(4)
  })

  it("treats an empty value as unset", () => {
    expect(threadPoolSize("", 2)).toBe("2")
    expect(threadPoolSize("  ", 8)).toBe("4")
  })
})
