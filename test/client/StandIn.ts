/**
 * A scripted stand-in for the server in client tests: a `ws` server on port 0
 * that hands every frame a client sends to the test's script, with the
 * connection's number (1, 2, ...), and records them per connection, so a test
 * can answer exactly as a newer (or older) server would and check what the
 * client sent.
 */
import { type WebSocket, WebSocketServer } from "ws"

export type Frame =
  | { readonly kind: "json"; readonly message: Record<string, unknown> }
  | { readonly kind: "binary"; readonly bytes: Buffer }

export interface StandIn {
  readonly url: string
  readonly port: number
  /** What each connection received, in order; index 0 is connection 1. */
  readonly frames: Array<Array<Frame>>
  /** The close code each connection ended with (undefined while open); index 0 is connection 1. */
  readonly closeCodes: Array<number | undefined>
  /** The `type` of each JSON frame and "binary" for each chunk, per connection. */
  readonly kinds: (connection: number) => Array<string>
  readonly close: () => Promise<void>
}

export const startStandIn = async (script: (frame: Frame, ws: WebSocket, connection: number) => void): Promise<StandIn> => {
  const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" })
  const frames: Array<Array<Frame>> = []
  const closeCodes: Array<number | undefined> = []
  wss.on("connection", (ws) => {
    const received: Array<Frame> = []
    frames.push(received)
    const connection = frames.length
    closeCodes.push(undefined)
    ws.on("close", (code) => (closeCodes[connection - 1] = code))
    ws.on("message", (data, isBinary) => {
      const frame: Frame = isBinary
        ? { kind: "binary", bytes: Buffer.from(data as Buffer) }
        : { kind: "json", message: JSON.parse(data.toString()) as Record<string, unknown> }
      received.push(frame)
      script(frame, ws, connection)
    })
  })
  await new Promise((resolve) => wss.once("listening", resolve))
  const { port } = wss.address() as { port: number }
  return {
    url: `ws://127.0.0.1:${port}/ws/file-transfer/`,
    port,
    frames,
    closeCodes,
    kinds: (connection) => (frames[connection - 1] ?? []).map((f) => (f.kind === "binary" ? "binary" : String(f.message["type"]))),
    close: () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate()
        wss.close(() => resolve())
      })
  }
}

/** Sends a reply as the server does: one JSON text frame. */
export const reply = (ws: WebSocket, message: Record<string, unknown>) => ws.send(JSON.stringify(message))

/** The `file_received` a server sends for `name` (its wording, which the client reads the stored name from). */
export const fileReceived = (name: string, extra: Record<string, unknown> = {}) => ({
  type: "file_received",
  message: `File ${name} received successfully and file extension is \`${name.split(".").pop()}\``,
  extension: name.split(".").pop(),
  ...extra
})

/** Retries `check` until it passes or `ms` elapse. */
export const eventually = async (check: () => void, ms = 3000): Promise<void> => {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      return check()
    } catch (error) {
      if (Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}
