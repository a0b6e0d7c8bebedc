/**
 * A WebSocket seen as a queue of events read one at a time (`next()`), so the
 * upload can be written as plain sequential code. Only the standard WebSocket
 * API is used: the browser's own, or any constructor with the same shape
 * (in Node, the `ws` package's WebSocket).
 */

/** The part of the standard WebSocket the client uses. */
export interface WebSocketLike {
  binaryType: string
  readonly readyState: number
  readonly bufferedAmount: number
  send(data: string | Uint8Array): void
  close(code?: number, reason?: string): void
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { readonly data: unknown }) => void) | null
  onclose: ((event: { readonly code: number; readonly reason: string }) => void) | null
  onerror: ((event: unknown) => void) | null
  /**
   * Not in the standard API: the HTTP status of a refused handshake, set before `onclose`.
   * Implementations that report it define the property (NodeWebSocket does); browsers hide the
   * status, and the client then asks the server's `/config.json` instead (Handshake.ts).
   */
  readonly handshakeStatus?: number | undefined
}

/** A WebSocket constructor: `globalThis.WebSocket` in browsers, `ws`'s in Node. */
export type WebSocketConstructor = new (url: string) => WebSocketLike

/** A reply from the server: every one has a `type` and a `message`. */
export interface Reply {
  readonly type: string
  readonly message: string
  readonly [field: string]: unknown
}

export type SocketEvent =
  | { readonly _tag: "open" }
  | { readonly _tag: "reply"; readonly reply: Reply }
  | { readonly _tag: "closed"; readonly code: number; readonly reason: string }
  | { readonly _tag: "abort" }

export interface EventSocket {
  readonly socket: WebSocketLike
  /** The next event; after "closed" every call returns that same event. */
  readonly next: () => Promise<SocketEvent>
  /** Puts an event in the queue (the abort signal uses it). */
  readonly push: (event: SocketEvent) => void
}

const OPEN = 1

/** Opens `url`; events are queued from the moment the socket exists. */
export const openSocket = (WebSocket: WebSocketConstructor, url: string): EventSocket => {
  const queue: Array<SocketEvent> = []
  const waiting: Array<(event: SocketEvent) => void> = []
  let closed: SocketEvent | undefined
  const push = (event: SocketEvent) => {
    if (closed !== undefined) return
    if (event._tag === "closed") closed = event
    const waiter = waiting.shift()
    if (waiter !== undefined) waiter(event)
    else queue.push(event)
  }
  let socket: WebSocketLike
  try {
    socket = new WebSocket(url)
  } catch (error) {
    // A malformed URL throws at once; treat it like a connection that never opened.
    push({ _tag: "closed", code: 1006, reason: error instanceof Error ? error.message : String(error) })
    return { socket: undefined as unknown as WebSocketLike, next: () => Promise.resolve(closed!), push }
  }
  socket.binaryType = "arraybuffer"
  socket.onopen = () => push({ _tag: "open" })
  socket.onmessage = (event) => {
    if (typeof event.data !== "string") return
    try {
      const reply: unknown = JSON.parse(event.data)
      if (typeof reply === "object" && reply !== null && typeof (reply as Reply).type === "string") {
        push({ _tag: "reply", reply: reply as Reply })
      }
    } catch {
      // Not JSON: not a reply this client understands; the protocol never sends one.
    }
  }
  socket.onclose = (event) => push({ _tag: "closed", code: event.code, reason: event.reason })
  socket.onerror = () => {
    // Always followed by close, which carries the code.
  }
  const next = () => {
    const queued = queue.shift()
    if (queued !== undefined) return Promise.resolve(queued)
    if (closed !== undefined) return Promise.resolve(closed)
    return new Promise<SocketEvent>((resolve) => waiting.push(resolve))
  }
  return { socket, next, push }
}

/** Closes the socket if it is still open or connecting. */
export const closeQuietly = (socket: WebSocketLike | undefined, code = 1000, reason = "") => {
  if (socket !== undefined && socket.readyState <= OPEN) socket.close(code, reason)
}

/** `next()` that ends the connection (a "closed" event) when nothing arrives for `ms` while waiting. */
export const withReplyTimeout = (events: EventSocket, ms: number): Pick<EventSocket, "next"> => ({
  next: () => {
    const timer = setTimeout(() => events.push({ _tag: "closed", code: 1006, reason: `no reply for ${ms / 1000} s` }), ms)
    return events.next().finally(() => clearTimeout(timer))
  }
})
