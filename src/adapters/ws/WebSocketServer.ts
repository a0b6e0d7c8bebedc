/**
 * The transport: one Node HTTP server that serves the HTTP app through
 * NodeHttpServer.makeHandler and hands WebSocket upgrades on the upload path
 * to a `ws` server, which (unlike the platform's upgrade) can cap frame size
 * (maxPayload, close 1009) and pause reading a socket.
 *
 * Before the upgrade, a handshake is checked in this order: the path (404),
 * the Origin against ALLOWED_ORIGINS (403), and the bearer token when
 * authentication is on (401); each refusal is logged through RefusalLog
 * (rate-limited, never the query string). A handshake that does not
 * complete within `handshakeTimeoutMillis` is cut off by Node's
 * headers/request timeouts.
 *
 * After the upgrade, each socket gets one fiber that hands it to the
 * Connections service (admission, session, metrics) as a `Connection` and
 * its inbox's `next`, and answers what the service could not: a refused
 * connection with its error, then close 1013; a broken one with
 * internal_error, then close 1011. When a client sends faster than frames
 * are handled, the inbox fills up to `queueHighWaterBytes` and the socket is
 * paused, so TCP pushes back instead of memory growing.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Context, Effect, FiberSet, Layer, Metric, Option } from "effect"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import type { Duplex } from "node:stream"
import { WebSocket, WebSocketServer } from "ws"
import * as Metrics from "../../application/infrastructure/Metrics.js"
import { Connections } from "../../application/session/Connections.js"
import * as Messages from "../../domain/Messages.js"
import { CLOSE_CODES, CLOSE_REASONS } from "../../domain/Refusals.js"
import { UPLOAD_PATH } from "../../domain/UploadPath.js"
import * as Authentication from "../http/Authentication.js"
import * as OriginPolicy from "../http/OriginPolicy.js"
import * as RefusalLog from "../http/RefusalLog.js"
import type { Readiness } from "../../application/ports/Readiness.js"
import type { Connection } from "../../application/session/Connection.js"
import * as ClientAddress from "../http/ClientAddress.js"
import * as HttpApp from "../http/HttpApp.js"
import type { PublicConfig } from "../http/PublicConfig.js"
import * as Inbox from "./Inbox.js"
import { HttpUploadEndpoint } from "../tus/HttpUploadEndpoint.js"

export const UPLOAD_PATHS: ReadonlySet<string> = new Set([UPLOAD_PATH, UPLOAD_PATH.slice(0, -1)])

/** WebSocket close code sent to clients when the server shuts down. */
export const CLOSE_GOING_AWAY = CLOSE_CODES.goingAway
/** WebSocket close code for a connection ended by a defect (a bug) that its session could not recover from. */
export const CLOSE_INTERNAL_ERROR = CLOSE_CODES.internalError

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
  /** Which reverse proxies in front may be believed about the client's address (default: none). */
  readonly trust?: ClientAddress.Trust
  /** Which pages may connect (default: those served by the same host). */
  readonly allowedOrigins?: OriginPolicy.OriginPolicy
  /** When set, a handshake must present one of these tokens. */
  readonly tokens?: ReadonlyArray<Authentication.Token> | undefined
  /** Longest time from TCP connect to a complete upgrade request (default 20 s). */
  readonly handshakeTimeoutMillis?: number
}

/** Where the server listens, once it does. */
export class ServerAddress extends Context.Tag("file-receiver/ServerAddress")<ServerAddress, {
  readonly host: string
  readonly port: number
}>() {}

/** Replies queued in the socket beyond this many bytes make the session wait for the peer to read. */
const SEND_HIGH_WATER = 1024 * 1024

const makeConnection = (ws: WebSocket, clientAddress: string, identity: string | undefined): Connection => ({
  clientAddress,
  identity,
  transport: "websocket",
  send: (reply) =>
    ws.readyState !== WebSocket.OPEN
      ? Effect.void
      : ws.bufferedAmount < SEND_HIGH_WATER
      ? Effect.sync(() => ws.send(reply))
      // Interruptible even inside a session's uninterruptible step: shutdown must not wait on a peer that never reads.
      : Effect.interruptible(Effect.async<void>((resume) => ws.send(reply, () => resume(Effect.void)))),
  close: (code, reason) => Effect.sync(() => ws.close(code, reason))
})

/**
 * Serves `ws` through the Connections service, answering a refused or broken
 * connection the WebSocket way; the socket is closed when this ends.
 */
const serveSocket = (
  connections: Context.Tag.Service<Connections>,
  ws: WebSocket,
  peer: { readonly clientAddress: string; readonly identity: string | undefined },
  highWaterBytes: number
) => {
  const connection = makeConnection(ws, peer.clientAddress, peer.identity)
  return Inbox.attach(ws, highWaterBytes).pipe(
    Effect.flatMap((inbox) => connections.serve({ connection, next: inbox.next })),
    Effect.catchTags({
      ConnectionRefused: ({ refusal }) =>
        Effect.zipRight(connection.send(Messages.error(refusal)), connection.close(CLOSE_CODES.tryAgainLater, CLOSE_REASONS.tryAgainLater)),
      ConnectionBroken: () =>
        Effect.zipRight(connection.send(Messages.internalError), connection.close(CLOSE_CODES.internalError, CLOSE_REASONS.internalError))
    }),
    Effect.scoped,
    Effect.ensuring(Effect.sync(() => ws.readyState === WebSocket.OPEN && ws.close()))
  )
}

/** Answers a refused upgrade with a plain HTTP response and closes the socket. */
const refuseUpgrade = (socket: Duplex, status: string, body: string, extraHeaders = "") =>
  socket.end(
    `HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n${extraHeaders}\r\n${body}`
  )

const header = (request: http.IncomingMessage, name: string): string | undefined => {
  const value = request.headers[name]
  return Array.isArray(value) ? value.join(",") : value
}

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
    for (const client of wss.clients) client.close(CLOSE_CODES.goingAway, CLOSE_REASONS.goingAway)
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
): Layer.Layer<ServerAddress, Error, Connections | Readiness | PublicConfig> =>
  Layer.scoped(
    ServerAddress,
    Effect.gen(function*() {
      const app = yield* HttpApp.make
      const appHandler = yield* NodeHttpServer.makeHandler(app)
      // The HTTP upload endpoint (tus and the IETF draft) when it is on; everything else goes to the app.
      const uploadEndpoint = yield* Effect.serviceOption(HttpUploadEndpoint)
      const handshakeTimeout = settings.handshakeTimeoutMillis ?? 20_000
      // Node's requestTimeout is off when the endpoint is on (its bodies may take hours): every other request still
      // has to arrive whole within the handshake timeout.
      const bounded = (request: http.IncomingMessage, response: http.ServerResponse) => {
        const timer = setTimeout(() => {
          if (!request.complete) request.socket.destroy()
        }, handshakeTimeout)
        timer.unref()
        appHandler(request, response)
      }
      const handler = Option.match(uploadEndpoint, {
        onNone: () => appHandler,
        onSome: (endpoint) => (request: http.IncomingMessage, response: http.ServerResponse) =>
          endpoint.handles(request.url) ? endpoint.serve(request, response) : bounded(request, response)
      })
      const connections = yield* Connections
      const fibers = yield* FiberSet.make()
      const runConnection = yield* FiberSet.runtime(fibers)<never>()
      const highWaterBytes = settings.queueHighWaterBytes ?? settings.maxPayload
      const trust = settings.trust ?? ClientAddress.trustNobody
      const origins = settings.allowedOrigins ?? OriginPolicy.sameHost

      const server = http.createServer({
        headersTimeout: handshakeTimeout,
        // A request body to the upload endpoint may take hours: it is cut off when it stalls, not for its length.
        requestTimeout: Option.isSome(uploadEndpoint) ? 0 : handshakeTimeout,
        // How often Node checks those timeouts (its default, 30 s, would make a short timeout meaningless).
        connectionsCheckingInterval: Math.max(100, Math.min(1_000, handshakeTimeout / 4))
      }, handler)
      const wss = new WebSocketServer({ noServer: true, maxPayload: settings.maxPayload, perMessageDeflate: false })
      const peerOf = (request: http.IncomingMessage) => ClientAddress.ofRequest(request, trust)
      const refusals = yield* RefusalLog.make()
      yield* Effect.addFinalizer(() => refusals.flush)
      const logRefusal = (kind: RefusalLog.RefusalKind, details: RefusalLog.RefusalDetails) =>
        runConnection(Effect.zipRight(
          kind === "path" ? Effect.void : Metric.increment(Metrics.connectionsRefused(kind === "origin" ? "origin" : "token")),
          refusals.refused(kind, details)
        ))
      server.on("upgrade", (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
        // Node drops its own error handler before "upgrade": without one, a reset would crash the process.
        socket.on("error", () => socket.destroy())
        // Never log request.url: it may carry the `token` query parameter.
        const pathname = (request.url ?? "/").split("?", 1)[0] ?? "/"
        const clientAddress = peerOf(request)
        const origin = header(request, "origin")
        if (!UPLOAD_PATHS.has(pathname)) {
          logRefusal("path", { client: clientAddress, origin, path: pathname })
          socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
          return
        }
        if (!OriginPolicy.allows(origins, origin, header(request, "host"))) {
          logRefusal("origin", { client: clientAddress, origin })
          return refuseUpgrade(socket, "403 Forbidden", "Origin not allowed\n")
        }
        let identity: string | undefined
        if (settings.tokens !== undefined) {
          const presented = Authentication.presented(header(request, "authorization"), request.url)
          const label = Authentication.authenticate(settings.tokens, presented)
          if (Option.isNone(label)) {
            logRefusal(presented === undefined ? "missing token" : "invalid token", { client: clientAddress, origin })
            return refuseUpgrade(socket, "401 Unauthorized", "Missing or invalid token\n", "WWW-Authenticate: Bearer\r\n")
          }
          identity = label.value
        }
        wss.handleUpgrade(request, socket, head, (ws) => {
          wss.emit("connection", ws, request)
          runConnection(serveSocket(connections, ws, { clientAddress, identity }, highWaterBytes))
        })
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
        Effect.annotateLogs({ uploadPath: UPLOAD_PATH })
      )
      return { host: settings.host, port: address.port }
    })
  )
