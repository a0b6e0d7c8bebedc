/**
 * The transport: one Node HTTP server that serves the HTTP app through
 * NodeHttpServer.makeHandler and hands WebSocket upgrades on the upload path
 * to a `ws` server, which (unlike the platform's upgrade) can cap frame size
 * (maxPayload, close 1009) and pause reading a socket.
 *
 * Each connection gets one fiber that takes frames from the connection's
 * queue, in order, and gives them to its UploadSession. When a client sends
 * faster than frames are handled, the queue fills up to `queueHighWater` and
 * the socket is paused, so TCP pushes back instead of memory growing.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, FiberSet, Layer, Queue } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { WebSocket, WebSocketServer } from "ws"
import { type Connection, type Frame, UploadSession } from "../../application/UploadSession.js"
import * as HttpApp from "../http/HttpApp.js"

export const UPLOAD_PATHS: ReadonlySet<string> = new Set(["/ws/file-transfer/", "/ws/file-transfer"])

/** WebSocket close code sent to clients when the server shuts down. */
export const CLOSE_GOING_AWAY = 1001

export interface TransportSettings {
  readonly host: string
  /** 0 picks a free port; `ServerAddress` tells which. */
  readonly port: number
  /** Largest frame accepted; bigger frames close the connection with 1009. */
  readonly maxPayload: number
  /** Frames queued per connection before its socket is paused. */
  readonly queueHighWater?: number
  /** How long shutdown waits for clients to acknowledge the 1001 close. */
  readonly closeGraceMillis?: number
}

/** Where the server listens, once it does. */
export class ServerAddress extends Context.Tag("file-receiver/ServerAddress")<ServerAddress, {
  readonly host: string
  readonly port: number
}>() {}

/** Replies queued in the socket beyond this many bytes make the session wait for the peer to read. */
const SEND_HIGH_WATER = 1024 * 1024

const End = Symbol("End")

const makeConnection = (ws: WebSocket, clientAddress: string): Connection => ({
  clientAddress,
  send: (reply) =>
    ws.readyState !== WebSocket.OPEN
      ? Effect.void
      : ws.bufferedAmount < SEND_HIGH_WATER
      ? Effect.sync(() => ws.send(reply))
      : Effect.async<void>((resume) => ws.send(reply, () => resume(Effect.void))),
  close: (code, reason) => Effect.sync(() => ws.close(code, reason))
})

const serveConnection = (ws: WebSocket, clientAddress: string, highWater: number) =>
  Effect.gen(function*() {
    const sessions = yield* UploadSession
    const inbox = yield* Queue.unbounded<Frame | typeof End>()
    // The queue is bounded by pausing the socket at highWater; these two track that.
    let pending = 0
    let paused = false
    ws.on("message", (data, isBinary) => {
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data)
      inbox.unsafeOffer(isBinary ? bytes : bytes.toString("utf8"))
      pending++
      if (!paused && pending >= highWater) {
        paused = true
        ws.pause()
      }
    })
    ws.on("close", () => inbox.unsafeOffer(End))
    ws.on("error", () => {
      // Protocol errors (oversized or malformed frames) close the socket; "close" follows.
    })

    const session = yield* sessions.open(makeConnection(ws, clientAddress))
    yield* Effect.logDebug("client connected")
    for (;;) {
      const frame = yield* Queue.take(inbox)
      if (frame === End) break
      pending--
      if (paused && pending <= highWater / 2) {
        paused = false
        ws.resume()
      }
      if ((yield* session.receive(frame)) === "closed") break
    }
    yield* Effect.logDebug("client disconnected")
  }).pipe(
    Effect.scoped,
    Effect.ensuring(Effect.sync(() => ws.readyState === WebSocket.OPEN && ws.close())),
    Effect.annotateLogs({ client: clientAddress })
  )

const listen = (server: http.Server, host: string, port: number) =>
  Effect.async<AddressInfo, Error>((resume) => {
    const onError = (error: Error) => resume(Effect.fail(error))
    server.once("error", onError)
    server.listen(port, host, () => {
      server.off("error", onError)
      resume(Effect.succeed(server.address() as AddressInfo))
    })
  })

/** Closes every socket with 1001, waits up to `graceMillis` for the handshakes, then cuts what is left. */
const shutdown = (server: http.Server, wss: WebSocketServer, graceMillis: number) =>
  Effect.async<void>((resume) => {
    server.close(() => resume(Effect.void))
    for (const client of wss.clients) client.close(CLOSE_GOING_AWAY, "Server shutting down")
    server.closeIdleConnections()
    const timer = setTimeout(() => {
      for (const client of wss.clients) client.terminate()
      server.closeAllConnections()
    }, graceMillis)
    timer.unref()
    if (wss.clients.size === 0) server.closeAllConnections()
  })

export const layer = (settings: TransportSettings): Layer.Layer<ServerAddress, Error, UploadSession> =>
  Layer.scoped(
    ServerAddress,
    Effect.gen(function*() {
      const app = yield* HttpApp.make
      const handler = yield* NodeHttpServer.makeHandler(app)
      const fibers = yield* FiberSet.make()
      const runConnection = yield* FiberSet.runtime(fibers)<UploadSession>()
      const highWater = settings.queueHighWater ?? 16

      const server = http.createServer(handler)
      const wss = new WebSocketServer({ noServer: true, maxPayload: settings.maxPayload, perMessageDeflate: false })
      wss.on("connection", (ws, request: http.IncomingMessage) => {
        runConnection(serveConnection(ws, request.socket.remoteAddress ?? "unknown", highWater))
      })
      server.on("upgrade", (request: http.IncomingMessage, socket, head) => {
        const { pathname } = new URL(request.url ?? "/", "http://localhost")
        if (!UPLOAD_PATHS.has(pathname)) {
          socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
          return
        }
        wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request))
      })

      const address = yield* Effect.acquireRelease(
        listen(server, settings.host, settings.port),
        () =>
          shutdown(server, wss, settings.closeGraceMillis ?? 2_000).pipe(
            Effect.zipRight(Effect.logInfo("server stopped"))
          )
      )
      yield* Effect.logInfo(`listening on http://${settings.host}:${address.port}`).pipe(
        Effect.annotateLogs({ uploadPath: "/ws/file-transfer/" })
      )
      return { host: settings.host, port: address.port }
    })
  )
