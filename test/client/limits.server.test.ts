/**
 * The client library under the real server's rate limit: the server announces
 * its limit in meta_received and refuses the message over it with
 * `rate_limited` and `retry_after`, then closes 1008; the client paces itself
 * under the limit, and when refused anyway (someone else used the window) it
 * waits `retry_after` and finishes. Every stored file is checked by sha256.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { NodeWebSocket, type ReconnectInfo, upload } from "../../src/client/node.js"
import { connect, type RunningServer, sha256, startServer } from "../support/server.js"

const blob = (bytes: Buffer, name: string) => Object.assign(new Blob([new Uint8Array(bytes)]), { name })

describe("the client library under the real server's rate limit", () => {
  let server: RunningServer
  // 12 messages per 2 s, 64 KiB chunks: a 1 MiB file needs 17 messages, so about two windows.
  // A server per test: each starts with its window unused.
  beforeEach(async () => {
    server = await startServer({ RATE_LIMIT_PER_PERIOD: "12", RATE_LIMIT_PERIOD: "2", MAX_CHUNK_BYTES: String(64 * 1024), FILE_ALLOWED_EXTENSIONS: "bin" })
  })
  afterEach(() => server.stop())

  it("paces itself under the announced limit: the upload finishes without a single refusal", async () => {
    const content = randomBytes(1024 * 1024)
    const reconnects: Array<ReconnectInfo> = []
    const waits: Array<string> = []
    const started = Date.now()
    const result = await upload(blob(content, "paced.bin"), {
      url: server.url,
      WebSocket: NodeWebSocket,
      onReconnect: (info) => void reconnects.push(info),
      onWait: (info) => void waits.push(info.reason)
    })
    expect(result).toMatchObject({ storedName: "paced.bin", sha256: sha256(content) })
    expect(reconnects).toEqual([])
    // 17 messages at 12 per 2 s cannot go out in under one window.
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_500)
    expect(sha256(await fs.readFile(path.join(server.directory, "paced.bin")))).toBe(sha256(content))
  }, 30_000)

  it("refused because another client of the same address used the window, it waits retry_after, says so, and finishes", async () => {
    // Another connection from this address spends most of the window first.
    const other = await connect(server.url)
    for (let i = 0; i < 11; i++) other.send({ type: "cancel" })
    for (let i = 0; i < 11; i++) await other.next()
    other.close()
    const content = randomBytes(256 * 1024)
    const reconnects: Array<ReconnectInfo> = []
    const result = await upload(blob(content, "waited.bin"), {
      url: server.url,
      WebSocket: NodeWebSocket,
      onReconnect: (info) => void reconnects.push(info)
    })
    expect(result).toMatchObject({ storedName: "waited.bin", sha256: sha256(content) })
    expect(reconnects.length).toBeGreaterThan(0)
    expect(reconnects.every((info) => info.cause === "rate_limited")).toBe(true)
    expect(reconnects[0]?.reason).toMatch(/waiting \d+ s for the rate limit/)
  }, 30_000)
})
