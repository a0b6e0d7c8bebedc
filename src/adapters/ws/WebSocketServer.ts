/**
 * The transport: one Node HTTP server that serves the HTTP app through
 * NodeHttpServer.makeHandler and hands WebSocket upgrades on the upload path
 * to a `ws` server, which (unlike the platform's upgrade) can cap frame size
 * (maxPayload, close 1009) and pause reading a socket.
 *
 * Each connection gets one fiber that takes frames from the connection's
 * inbox, in order, and gives them to its UploadSession. When a client sends
 * faster than frames are handled, the inbox fills up to `queueHighWaterBytes`
 * and the socket is paused, so TCP pushes back instead of memory growing.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, FiberSet, Layer, Metric } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import type { Duplex } from "node:stream"
import { WebSocket, WebSocketServer } from "ws"
import * as Metrics from "../../application/Metrics.js"
import type { Readiness } from "../../application/Readiness.js"
import { type Connection, UploadSession } from "../../application/UploadSession.js"
import * as ClientAddress from "../http/ClientAddress.js"
import * as HttpApp from "../http/HttpApp.js"
import type { UploadLimits } from "../http/UploadLimits.js"
import * as Inbox from "./Inbox.js"

export const UPLOAD_PATHS: ReadonlySet<string> = new Set(["/ws/file-transfer/", "/ws/file-transfer"])

/** WebSocket close code sent to clients when the server shuts down. */
export const CLOSE_GOING_AWAY = 1001

export interface TransportSettings {
  readonly host: string
  /** 0 picks a free port; `ServerAddress` tells which. */
  readonly port: number
  /** Largest frame accepted; bigger frames close the connection with 1009. */
  readonly maxPayload: number
  /** Bytes of frames queued per connection before its socket is paused (default: maxPayload). */
  readonly queueHighWaterBytes?: number
  /** How long shutdown waits for clients to acknowledge the 1001 close. */
  readonly closeGraceMillis?: number
  /**
   * Every this often each socket is pinged; one that has not answered the
   * previous ping is cut off, which ends its session and frees its upload
   * for a resume (dead mobile links often never send a FIN).
   */
  readonly heartbeatMillis?: number
  /** How many reverse proxies in front may be believed about the client's address (X-Forwarded-For). */
  readonly trustedProxies?: number
}

/** Where the server listens, once it does. */
export class ServerAddress extends Context.Tag("file-receiver/ServerAddress")<ServerAddress, {
  readonly host: string
  readonly port: number
}>() {}

/** Replies queued in the socket beyond this many bytes make the session wait for the peer to read. */
const SEND_HIGH_WATER = 1024 * 1024

const makeConnection = (ws: WebSocket, clientAddress: string): Connection => ({
  clientAddress,
  send: (reply) =>
    ws.readyState !== WebSocket.OPEN
      ? Effect.void
      : ws.bufferedAmount < SEND_HIGH_WATER
      ? Effect.sync(() => ws.send(reply))
      // Interruptible even inside a session's uninterruptible step: shutdown must not wait on a peer that never reads.
      : Effect.interruptible(Effect.async<void>((resume) => ws.send(reply, () => resume(Effect.void)))),
  close: (code, reason) => Effect.sync(() => ws.close(code, reason))
})

const serveConnection = (ws: WebSocket, clientAddress: string, highWaterBytes: number) =>
  Effect.gen(function*() {
    const sessions = yield* UploadSession
    const inbox = yield* Inbox.attach(ws, highWaterBytes)
    yield* Effect.acquireRelease(
      Metric.increment(Metrics.activeConnections),
      () => Metric.incrementBy(Metrics.activeConnections, -1)
    )
    const session = yield* sessions.open(makeConnection(ws, clientAddress))
    yield* Effect.logDebug("client connected")
    for (;;) {
      const frame = yield* inbox.take
      if (typeof frame === "object" && "_tag" in frame) {
        yield* Effect.logDebug("client disconnected").pipe(
          Effect.annotateLogs({ code: frame.code, ...(frame.error === undefined ? {} : { error: frame.error }) })
        )
        return
      }
      if ((yield* session.receive(frame)) === "closed") return
    }
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

export const layer = (
  settings: TransportSettings
): Layer.Layer<ServerAddress, Error, UploadSession | Readiness | UploadLimits> =>
  Layer.scoped(
    ServerAddress,
    Effect.gen(function*() {
      const app = yield* HttpApp.make
      const handler = yield* NodeHttpServer.makeHandler(app)
      const fibers = yield* FiberSet.make()
      const runConnection = yield* FiberSet.runtime(fibers)<UploadSession>()
      const highWaterBytes = settings.queueHighWaterBytes ?? settings.maxPayload

      const server = http.createServer(handler)
      const wss = new WebSocketServer({ noServer: true, maxPayload: settings.maxPayload, perMessageDeflate: false })
      wss.on("connection", (ws, request: http.IncomingMessage) => {
        const forwardedFor = request.headers["x-forwarded-for"]
        const clientAddress = ClientAddress.resolve(
          request.socket.remoteAddress ?? "unknown",
          Array.isArray(forwardedFor) ? forwardedFor.join(",") : forwardedFor,
          settings.trustedProxies ?? 0
        )
        runConnection(serveConnection(ws, clientAddress, highWaterBytes))
      })
      server.on("upgrade", (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
        // Node drops its own error handler before "upgrade": without one, a reset would crash the process.
        socket.on("error", () => socket.destroy())
        const pathname = (request.url ?? "/").split("?", 1)[0] ?? "/"
        if (!UPLOAD_PATHS.has(pathname)) {
          socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
          return
        }
        wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request))
      })

      const alive = new WeakMap<WebSocket, boolean>()
      wss.on("connection", (ws: WebSocket) => {
        alive.set(ws, true)
        ws.on("pong", () => alive.set(ws, true))
      })
      yield* Effect.acquireRelease(
        Effect.sync(() =>
          setInterval(() => {
            for (const ws of wss.clients) {
              if (alive.get(ws) === false) {
                ws.terminate()
                continue
              }
              alive.set(ws, false)
              ws.ping()
            }
          }, settings.heartbeatMillis ?? 15_000)
        ),
        (timer) => Effect.sync(() => clearInterval(timer))
      )

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
