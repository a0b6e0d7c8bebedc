/**
 * A refused handshake: against the real server, a missing or wrong token
 * (401), an Origin that is not allowed (403) and a wrong path (404) fail at
 * once with HandshakeRefusedError and say what to change, while a 503 and a
 * server that is down are retried. In browsers the status is hidden: a stub
 * WebSocket that fails before `open`, as a browser's does, and a real HTTP
 * server for `/config.json` check how the client reads the refusal from it.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  ConnectionFailedError,
  fromBlob,
  HandshakeRefusedError,
  nodeWebSocket,
  NodeWebSocket,
  upload,
  type UploadOptions,
  type WebSocketConstructor,
  type WebSocketLike
} from "../../src/client/node.js"
import { type RunningServer, startServer } from "../support/server.js"

const TOKEN = "alice-secret-token-0123"
const file = () => fromBlob(new Blob([Buffer.from("hello")]), "h.txt")

/** Uploads `file()`, resolving with what it ended with, the reconnects it announced and how long it took. */
const attempt = async (options: UploadOptions) => {
  const reconnects: Array<string> = []
  const started = Date.now()
  const outcome = await upload(file(), { minDelay: 10, maxDelay: 20, ...options, onReconnect: (info) => reconnects.push(info.reason) })
    .catch((e: unknown) => e)
  return { outcome, reconnects, ms: Date.now() - started }
}

const listen = async (server: http.Server) => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return (server.address() as AddressInfo).port
}
const closeServer = (server: http.Server) => new Promise((resolve) => server.close(resolve))

describe("handshakes the real server refuses fail at once with HandshakeRefusedError", { timeout: 30_000 }, () => {
  let secured: RunningServer
  beforeAll(async () => {
    secured = await startServer({ AUTH_TOKENS: `alice:${TOKEN}`, ALLOWED_ORIGINS: "http://allowed.example" })
  })
  afterAll(() => secured.stop())

  it("401 without a token: the server wants one", async () => {
    const { outcome, reconnects, ms } = await attempt({ url: secured.url, WebSocket: NodeWebSocket })
    expect(outcome).toBeInstanceOf(HandshakeRefusedError)
    expect(outcome).toMatchObject({ _tag: "HandshakeRefused", status: 401 })
    expect((outcome as Error).message).toBe("The server refused the connection (HTTP 401): the server wants a token: pass --token (options.token)")
    expect(reconnects).toEqual([])
    expect(ms).toBeLessThan(2000)
  })

  it("401 with a wrong token: it was not accepted", async () => {
    const { outcome, reconnects } = await attempt({ url: secured.url, WebSocket: NodeWebSocket, token: "wrong" })
    expect(outcome).toMatchObject({ status: 401, message: "The server refused the connection (HTTP 401): the token was not accepted: check --token (options.token)" })
    expect(reconnects).toEqual([])
  })

  it("403 for an Origin that ALLOWED_ORIGINS does not list; the listed one uploads", async () => {
    const evil = await attempt({ url: secured.url, token: TOKEN, WebSocket: nodeWebSocket({ headers: { Origin: "http://evil.example" } }) })
    expect(evil.outcome).toBeInstanceOf(HandshakeRefusedError)
    expect(evil.outcome).toMatchObject({ status: 403 })
    expect((evil.outcome as Error).message).toBe(
      "The server refused the connection (HTTP 403): this page's origin (or the client's Origin header) is not allowed: " +
        "the server's ALLOWED_ORIGINS must list it"
    )
    expect(evil.reconnects).toEqual([])
    const allowed = await attempt({ url: secured.url, token: TOKEN, WebSocket: nodeWebSocket({ headers: { Origin: "http://allowed.example" } }) })
    expect(allowed.outcome).toMatchObject({ storedName: expect.stringMatching(/^h(_\d+)?\.txt$/) })
  })

  it("404 for a wrong path, such as the page's address given as an http URL", async () => {
    const { outcome, reconnects } = await attempt({ url: `http://127.0.0.1:${secured.port}/`, token: TOKEN, WebSocket: NodeWebSocket })
    expect(outcome).toBeInstanceOf(HandshakeRefusedError)
    expect(outcome).toMatchObject({ status: 404, message: "The server refused the connection (HTTP 404): the path is wrong: the upload endpoint is /ws/file-transfer/" })
    expect(reconnects).toEqual([])
  })

  it("an http URL of the endpoint is taken as its ws URL", async () => {
    const { outcome } = await attempt({ url: `http://127.0.0.1:${secured.port}/ws/file-transfer/`, token: TOKEN, WebSocket: NodeWebSocket })
    expect(outcome).toMatchObject({ storedName: expect.stringMatching(/^h(_\d+)?\.txt$/) })
  })
})

describe("handshakes that can heal are retried", { timeout: 30_000 }, () => {
  it("503 at the handshake is retried, then fails as a connection failure", async () => {
    const unavailable = http.createServer()
    unavailable.on("upgrade", (_request, socket) => socket.end("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"))
    const port = await listen(unavailable)
    try {
      const { outcome, reconnects } = await attempt({ url: `ws://127.0.0.1:${port}/ws/file-transfer/`, WebSocket: NodeWebSocket, retries: 2 })
      expect(outcome).toBeInstanceOf(ConnectionFailedError)
      expect(reconnects).toHaveLength(2)
    } finally {
      await closeServer(unavailable)
    }
  })

  it("a server that is down is retried", async () => {
    const down = http.createServer()
    const port = await listen(down)
    await closeServer(down)
    const { outcome, reconnects } = await attempt({ url: `ws://127.0.0.1:${port}/ws/file-transfer/`, WebSocket: NodeWebSocket, retries: 2 })
    expect(outcome).toBeInstanceOf(ConnectionFailedError)
    expect((outcome as Error).message).toMatch(/^Gave up after 3 failed connections: could not connect \(code 1006/)
    expect(reconnects).toHaveLength(2)
  })
})

/** A WebSocket as a browser's behaves on a refused handshake: closed with 1006 before open, no status. */
const browserLikeRefusal = () => {
  const urls: Array<string> = []
  const WebSocket = class {
    binaryType = "blob"
    readyState = 0
    bufferedAmount = 0
    onopen: WebSocketLike["onopen"] = null
    onmessage: WebSocketLike["onmessage"] = null
    onclose: WebSocketLike["onclose"] = null
    onerror: WebSocketLike["onerror"] = null
    constructor(url: string) {
      urls.push(url)
      setTimeout(() => {
        this.readyState = 3
        this.onerror?.({})
        this.onclose?.({ code: 1006, reason: "" })
      }, 5)
    }
    send() {}
    close() {}
  } as unknown as WebSocketConstructor
  return { WebSocket, urls }
}

describe("in browsers (no status), the refusal is read from /config.json", { timeout: 30_000 }, () => {
  let config: Record<string, unknown> | undefined
  const asked: Array<string> = []
  const site = http.createServer((request, response) => {
    asked.push(request.url ?? "")
    if (config === undefined || !(request.url ?? "").endsWith("/config.json")) return response.writeHead(404).end()
    response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(config))
  })
  let port = 0
  beforeAll(async () => {
    port = await listen(site)
  })
  afterAll(() => closeServer(site))

  const base = { max_file_bytes: 1024, allowed_extensions: ["txt"], upload_path: "/ws/file-transfer/" }
  const endpoint = (path = "/ws/file-transfer/") => `ws://127.0.0.1:${port}${path}`

  it("no /config.json either: the server is down, retried as a connection failure", async () => {
    config = undefined
    const stub = browserLikeRefusal()
    const { outcome, reconnects } = await attempt({ url: endpoint(), WebSocket: stub.WebSocket, retries: 2 })
    expect(outcome).toBeInstanceOf(ConnectionFailedError)
    expect(reconnects).toHaveLength(2)
    expect(stub.urls).toHaveLength(3)
  })

  it("an http(s) URL is opened as ws(s), as browsers before 2024 require", async () => {
    config = undefined
    const stub = browserLikeRefusal()
    await attempt({ url: `http://127.0.0.1:${port}/ws/file-transfer/`, WebSocket: stub.WebSocket, retries: 0 })
    await attempt({ url: "https://127.0.0.1:1/ws/file-transfer/", WebSocket: stub.WebSocket, retries: 0 })
    expect(stub.urls).toEqual([`ws://127.0.0.1:${port}/ws/file-transfer/`, "wss://127.0.0.1:1/ws/file-transfer/"])
  })

  it("auth_required and no token: the 401, after one handshake", async () => {
    config = { ...base, auth_required: true }
    const stub = browserLikeRefusal()
    const { outcome, reconnects } = await attempt({ url: endpoint(), WebSocket: stub.WebSocket })
    expect(outcome).toBeInstanceOf(HandshakeRefusedError)
    expect(outcome).toMatchObject({ status: 401, message: "The server refused the connection (HTTP 401): the server wants a token: pass --token (options.token)" })
    expect(reconnects).toEqual([])
    expect(stub.urls).toHaveLength(1)
  })

  it("a path that is not upload_path: the 404", async () => {
    config = { ...base, auth_required: false }
    const stub = browserLikeRefusal()
    const { outcome } = await attempt({ url: endpoint("/"), WebSocket: stub.WebSocket })
    expect(outcome).toMatchObject({ status: 404, message: "The server refused the connection (HTTP 404): the path is wrong: the upload endpoint is /ws/file-transfer/" })
    expect(stub.urls).toHaveLength(1)
  })

  it("the server answers and nothing else explains it: the 403, after a second refused handshake", async () => {
    config = { ...base, auth_required: false }
    const stub = browserLikeRefusal()
    asked.length = 0
    const { outcome, reconnects } = await attempt({ url: endpoint("/files/ws/file-transfer/"), WebSocket: stub.WebSocket })
    expect(outcome).toBeInstanceOf(HandshakeRefusedError)
    expect(outcome).toMatchObject({ status: 403 })
    expect((outcome as Error).message).toContain("the server's ALLOWED_ORIGINS must list it")
    expect(reconnects).toHaveLength(1)
    expect(stub.urls).toHaveLength(2)
    // Under a proxy's path prefix, /config.json is asked under that prefix too.
    expect(asked).toEqual(["/files/config.json", "/files/config.json"])
  })
})
