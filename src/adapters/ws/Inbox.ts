/**
 * A connection's inbound frames, queued for its single fiber and bounded in
 * bytes: when the queued frames reach `highWaterBytes` the socket is paused
 * (TCP then pushes back on the client) and it resumes below half of that.
 * Memory per connection is therefore about one frame in the ws parser plus
 * `highWaterBytes`, whatever the client sends.
 */
import { Effect, Queue } from "effect"
import type { Scope } from "effect"
import type { WebSocket } from "ws"
import type { Frame } from "../../application/Connection.js"

/** The connection ended: the close code and reason, and the protocol error that caused it, if any. */
export interface Ended {
  readonly _tag: "Ended"
  readonly code: number
  readonly reason: string
  readonly error: string | undefined
}

const toBuffer = (data: Buffer | ArrayBuffer | ReadonlyArray<Buffer>): Buffer =>
  Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)

/**
 * Starts queueing `ws`'s frames. `take` yields them in arrival order, then
 * `Ended` once the socket has closed. Closing the scope stops listening and
 * resumes a paused socket, so a close handshake can still complete.
 */
export const attach = (ws: WebSocket, highWaterBytes: number) =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Frame | Ended>()
    let queuedBytes = 0
    let paused = false
    let protocolError: string | undefined

    const onMessage = (data: Buffer | ArrayBuffer | ReadonlyArray<Buffer>, isBinary: boolean) => {
      const bytes = toBuffer(data)
      queue.unsafeOffer({ bytes, isBinary })
      queuedBytes += bytes.length
      if (!paused && queuedBytes >= highWaterBytes) {
        paused = true
        ws.pause()
      }
    }
    const onClose = (code: number, reason: Buffer) =>
      queue.unsafeOffer({ _tag: "Ended", code, reason: reason.toString(), error: protocolError })
    const onError = (error: Error) => {
      // ws closes the socket after a protocol error (1009 too big, 1007 bad UTF-8, ...); "close" follows.
      protocolError = error.message
    }
    ws.on("message", onMessage)
    ws.on("close", onClose)
    ws.on("error", onError)

    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        ws.off("message", onMessage)
        ws.off("close", onClose)
        if (paused) ws.resume()
        // Keep an error listener: an unhandled "error" event would crash the process.
      }).pipe(Effect.zipRight(Queue.shutdown(queue)))
    )

    const take: Effect.Effect<Frame | Ended> = Effect.map(Queue.take(queue), (item) => {
      if ("_tag" in item) return item
      queuedBytes -= item.bytes.length
      if (paused && queuedBytes <= highWaterBytes / 2) {
        paused = false
        ws.resume()
      }
      return item
    })
    return { take }
  }) satisfies Effect.Effect<{ readonly take: Effect.Effect<Frame | Ended> }, never, Scope.Scope>
