import { describe, expect, it } from "vitest"
import { BUSY_PREFIX, errorKind, retryAfterMs, serverCode, UNKNOWN_UPLOAD_PREFIX } from "../../src/client/ErrorReply.js"

const error = (message: string, extra: Record<string, unknown> = {}) => ({ type: "error", message, ...extra })

describe("errorKind: what an error reply means to the client", () => {
  it("decides on the code when the reply has one, whatever the text says", () => {
    expect(errorKind(error("Held by another connection", { code: "busy" }))).toBe("busy")
    expect(errorKind(error("Gone", { code: "unknown_upload" }))).toBe("unknown_upload")
    expect(errorKind(error("Kept; retry later", { code: "storage_unavailable" }))).toBe("storage_unavailable")
    expect(errorKind(error("Slow down", { code: "rate_limited" }))).toBe("rate_limited")
    expect(errorKind(error("Full", { code: "too_many_connections" }))).toBe("too_many_connections")
    expect(errorKind(error(`${BUSY_PREFIX}; close that one first`, { code: "file_too_large" }))).toBe("refused")
    expect(errorKind(error("Rate limit exceeded", { code: "invalid_message" }))).toBe("refused")
    expect(errorKind(error(`${UNKNOWN_UPLOAD_PREFIX}: start a new upload`, { code: "internal_error" }))).toBe("refused")
  })

  it("falls back to the message prefixes only for a reply without a code (an older server)", () => {
    expect(errorKind(error(`${BUSY_PREFIX}; close that one first or wait for it to time out`))).toBe("busy")
    expect(errorKind(error(`${UNKNOWN_UPLOAD_PREFIX}: start a new upload without it`))).toBe("unknown_upload")
    expect(errorKind(error("Storage unavailable: the upload was kept"))).toBe("refused")
    expect(errorKind(error("Rate limit exceeded"))).toBe("rate_limited")
    expect(errorKind(error("Rate limit exceeded: more than 1024 bytes in 60 seconds"))).toBe("rate_limited")
    expect(errorKind(error("Too many connections from this address (limit 4); close one or try again later"))).toBe("too_many_connections")
    expect(errorKind(error("The server has too many connections; try again later"))).toBe("too_many_connections")
    expect(errorKind(error("Invalid file extension: exe"))).toBe("refused")
  })

  it("a code that is not a string counts as none", () => {
    expect(serverCode(error("x", { code: 7 }))).toBeUndefined()
    expect(errorKind(error(BUSY_PREFIX, { code: null }))).toBe("busy")
    expect(serverCode(error("x", { code: "rate_limited" }))).toBe("rate_limited")
  })

  it("reads retry_after in seconds as milliseconds, ignoring values that are not a usable number", () => {
    expect(retryAfterMs(error("x", { retry_after: 2.5 }))).toBe(2500)
    expect(retryAfterMs(error("x", { retry_after: 0 }))).toBe(0)
    expect(retryAfterMs(error("x", { retry_after: -1 }))).toBeUndefined()
    expect(retryAfterMs(error("x", { retry_after: "5" }))).toBeUndefined()
    expect(retryAfterMs(error("x"))).toBeUndefined()
  })
})
