/**
 * The client library under a server's limits, against stand-ins that answer
 * as the server does once it announces them: `rate_limit` and
 * `max_chunk_bytes` in meta_received, a fixed window per client address over
 * all its connections, and `rate_limited` / `too_many_connections` refusals
 * with `retry_after` followed by a close. The client paces itself under the
 * announced limit, waits out a refusal and resumes, and uses the largest
 * chunk the server allows.
 */
import { randomBytes } from "node:crypto"
import { afterEach, describe, expect, it } from "vitest"
import type { WebSocket } from "ws"
import { fromBlob, NodeWebSocket, type ReconnectInfo, ServerRefusedError, upload } from "../../src/client/node.js"
import { fileReceived, type Frame, reply, type StandIn, startStandIn } from "./StandIn.js"

let server: StandIn | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

interface Limited {
  readonly script: (frame: Frame, ws: WebSocket, connection: number) => void
  /** When each message arrived, over every connection. */
  readonly arrivals: Array<number>
  /** The bytes held per upload_id. */
  readonly held: Map<string, Buffer>
  /** Refusals sent. */
  readonly refusals: () => number
}

/**
 * A resumable receiver that counts every message of the (single) client in a fixed window opened
 * by its first one, as the server does, and refuses the one over `messages` with `rate_limited`
 * then closes 1008. Each file_name gets its own upload_id.
 */
const limitedReceiver = (limit: { messages: number; periodSeconds: number; maxChunkBytes: number; announce: boolean }): Limited => {
  const arrivals: Array<number> = []
  const held = new Map<string, Buffer>()
  const sizes = new Map<string, number>()
  const current = new Map<WebSocket, string>()
  let windowStart: number | undefined
  let count = 0
  let refusals = 0
  const script = (frame: Frame, ws: WebSocket) => {
    const now = Date.now()
    arrivals.push(now)
    if (windowStart === undefined || now >= windowStart + limit.periodSeconds * 1000) {
      windowStart = now
      count = 0
    }
    if (++count > limit.messages) {
      refusals++
      const retryAfter = Math.ceil((windowStart + limit.periodSeconds * 1000 - now) / 1000)
      reply(ws, { type: "error", message: "Rate limit exceeded", code: "rate_limited", retry_after: retryAfter })
      return ws.close(1008, "Rate limit exceeded")
    }
    if (frame.kind === "json") {
      if (frame.message["type"] !== "file_meta") return
      const id = `u-${String(frame.message["file_name"])}`
      current.set(ws, id)
      sizes.set(id, frame.message["file_size"] as number)
      if (!held.has(id)) held.set(id, Buffer.alloc(0))
      return reply(ws, {
        type: "meta_received",
        message: "Ready to receive file",
        binary_chunks: true,
        upload_id: id,
        offset: held.get(id)!.length,
        max_chunk_bytes: limit.maxChunkBytes,
        ...(limit.announce ? { rate_limit: { messages: limit.messages, period_seconds: limit.periodSeconds } } : {})
      })
    }
    const id = current.get(ws)!
    const bytes = Buffer.concat([held.get(id)!, frame.bytes])
    held.set(id, bytes)
    reply(ws, bytes.length < sizes.get(id)! ? { type: "chunk_received", message: "Ready for next chunk", received: bytes.length } : fileReceived(id.slice(2)))
  }
  return { script, arrivals, held, refusals: () => refusals }
}

/** The most arrivals in any span of `ms`. */
const busiestSpan = (arrivals: ReadonlyArray<number>, ms: number) => {
  const sorted = [...arrivals].sort((a, b) => a - b)
  let most = 0
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[i]! - sorted[j]! >= ms) j++
    most = Math.max(most, i - j + 1)
  }
  return most
}

describe("pacing under the rate limit the server announces", { timeout: 30_000 }, () => {
  it("two uploads to the same server never send more than 10 messages in 2 s between them, and both complete", async () => {
    const limited = limitedReceiver({ messages: 10, periodSeconds: 2, maxChunkBytes: 1000, announce: true })
    server = await startStandIn(limited.script)
    const a = randomBytes(8000), b = randomBytes(8000)
    const waits: Array<string> = []
    const options = { url: server.url, WebSocket: NodeWebSocket, window: 2, retries: 0, onWait: (info: { reason: string }) => waits.push(info.reason) }
    const results = await Promise.all([upload(fromBlob(new Blob([a]), "a.txt"), options), upload(fromBlob(new Blob([b]), "b.txt"), options)])
    expect(results.map((r) => r.storedName)).toEqual(["a.txt", "b.txt"])
    expect(limited.held.get("u-a.txt")!.equals(a)).toBe(true)
    expect(limited.held.get("u-b.txt")!.equals(b)).toBe(true)
    expect(limited.refusals()).toBe(0)
    expect(limited.arrivals).toHaveLength(18) // 2 file_meta, 16 chunks of 1000 bytes
    expect(busiestSpan(limited.arrivals, 2000)).toBeLessThanOrEqual(10)
    expect(waits.length).toBeGreaterThan(0)
    expect(waits.every((reason) => /^waiting \d+ s for the rate limit$/.test(reason))).toBe(true)
  })

  it("by default sends chunks of the server's max_chunk_bytes", async () => {
    const limited = limitedReceiver({ messages: 1000, periodSeconds: 60, maxChunkBytes: 1024 * 1024, announce: true })
    server = await startStandIn(limited.script)
    const bytes = randomBytes(2.5 * 1024 * 1024)
    await upload(fromBlob(new Blob([bytes]), "big.pdf"), { url: server.url, WebSocket: NodeWebSocket })
    const sizes = server.frames[0]!.flatMap((f) => (f.kind === "binary" ? [f.bytes.length] : []))
    expect(sizes).toEqual([1024 * 1024, 1024 * 1024, 512 * 1024])
  })
})

describe("a refusal by the server's limits is waited out and the upload resumes", { timeout: 30_000 }, () => {
  it("rate_limited with retry_after: waits that long (a little more), says so, resumes with the same upload_id and completes", async () => {
    // Announces no limit (as an older server), so the client cannot pace and is refused.
    const limited = limitedReceiver({ messages: 4, periodSeconds: 1, maxChunkBytes: 1000, announce: false })
    const refusedAt: Array<number> = []
    server = await startStandIn((frame, ws, connection) => {
      const before = limited.refusals()
      limited.script(frame, ws, connection)
      if (limited.refusals() > before) refusedAt.push(Date.now())
    })
    const bytes = randomBytes(6000)
    const reconnects: Array<ReconnectInfo> = []
    const result = await upload(fromBlob(new Blob([bytes]), "slow.txt"), {
      url: server.url,
      WebSocket: NodeWebSocket,
      window: 1,
      retries: 0, // limit waits are bounded by time, not by this count
      onReconnect: (info) => reconnects.push(info)
    })
    expect(result.storedName).toBe("slow.txt")
    expect(limited.held.get("u-slow.txt")!.equals(bytes)).toBe(true)
    expect(reconnects.length).toBeGreaterThanOrEqual(1)
    expect(reconnects.every((r) => r.cause === "rate_limited")).toBe(true)
    expect(reconnects[0]!.delayMs).toBeGreaterThanOrEqual(1000)
    expect(reconnects[0]!.delayMs).toBeLessThan(1500)
    expect(reconnects[0]!.reason).toBe("waiting 1 s for the rate limit")
    // The next connection came after the wait, and resumed.
    const second = server.frames[1]![0]
    expect(second).toMatchObject({ kind: "json", message: { type: "file_meta", upload_id: "u-slow.txt" } })
    expect(server.frames.flat().some((f) => f.kind === "json" && f.message["type"] === "cancel")).toBe(false)
    expect(server.closeCodes[0]).toBe(1008)
  })

  it("too_many_connections with retry_after: waits, says so, and connects again", async () => {
    const limited = limitedReceiver({ messages: 1000, periodSeconds: 60, maxChunkBytes: 1000, announce: true })
    server = await startStandIn((frame, ws, connection) => {
      if (connection === 1) {
        reply(ws, { type: "error", message: "Too many connections from this address (limit 1)", code: "too_many_connections", retry_after: 0.2 })
        return ws.close(1013, "Too many connections")
      }
      limited.script(frame, ws, connection)
    })
    const reconnects: Array<ReconnectInfo> = []
    const result = await upload(fromBlob(new Blob([randomBytes(3000)]), "c.txt"), {
      url: server.url,
      WebSocket: NodeWebSocket,
      retries: 0,
      onReconnect: (info) => reconnects.push(info)
    })
    expect(result.storedName).toBe("c.txt")
    expect(reconnects).toEqual([
      { attempt: 1, delayMs: 450, reason: "waiting 1 s for a free connection: Too many connections from this address (limit 1)", cause: "too_many_connections" }
    ])
  })

  it("a retry_after beyond limitPatience fails at once with the server's code, saying when to try again", async () => {
    server = await startStandIn((frame, ws) => {
      if (frame.kind !== "json") return
      reply(ws, { type: "error", message: "Rate limit exceeded: more than 1073741824 bytes in 86400 seconds", code: "rate_limited", retry_after: 7200 })
      ws.close(1008)
    })
    const started = Date.now()
    const error = await upload(fromBlob(new Blob([randomBytes(100)]), "d.txt"), { url: server.url, WebSocket: NodeWebSocket }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ServerRefusedError)
    expect(error).toMatchObject({ code: "rate_limited" })
    expect((error as Error).message).toBe("Rate limit exceeded: more than 1073741824 bytes in 86400 seconds; try again in 2 h 2 min")
    expect(Date.now() - started).toBeLessThan(2000)
  })
})
