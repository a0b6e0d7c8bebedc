/**
 * A connection's inbound frames, queued for its single fiber and bounded in
 * bytes: when the queued frames reach `highWaterBytes` the socket is paused
 * (TCP then pushes back on the client) and it resumes below half of that.
 * Memory per connection is therefore about one frame in the ws parser plus
 * `highWaterBytes`, whatever the client sends.
 *
 * The queue is a plain array read by the connection's one fiber, and a wait
 * for the next frame can be bounded by a plain timer (the idle and stall
 * timeouts), so a frame costs no extra fiber or queue machinery.
 */
import { Effect } from "effect"
import type { Scope } from "effect"
import type { WebSocket } from "ws"
import type { Frame } from "../../application/session/Connection.js"
import * as Finalizers from "../../application/infrastructure/Finalizers.js"

/** The connection ended: the close code and reason, and the protocol error that caused it, if any. */
export interface Ended {
  readonly _tag: "Ended"
  readonly code: number
  readonly reason: string
  readonly error: string | undefined
}

const toBuffer = (data: Buffer | ArrayBuffer | ReadonlyArray<Buffer>): Buffer =>
  Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)

/** Taken slots at the front are dropped once there are this many (and they are at least half the array). */
const COMPACT_AFTER = 64

/**
 * Starts queueing `ws`'s frames. `take` yields them in arrival order, then
 * `Ended` once the socket has closed. Closing the scope stops listening and
 * resumes a paused socket, so a close handshake can still complete.
 */
export const attach = (ws: WebSocket, highWaterBytes: number) =>
  Effect.gen(function*() {
    const items: Array<Frame | Ended | undefined> = []
    let head = 0
    let waiter: ((item: Frame | Ended) => void) | undefined
    let queuedBytes = 0
    let paused = false
    let protocolError: string | undefined

    const offer = (item: Frame | Ended) => {
      const taker = waiter
      if (taker !== undefined) {
        waiter = undefined
        taker(item)
      } else {
        items.push(item)
      }
    }
    const poll = (): Frame | Ended | undefined => {
      if (head === items.length) return undefined
      const item = items[head]
      items[head++] = undefined
      if (head === items.length) {
        items.length = 0
        head = 0
      } else if (head >= COMPACT_AFTER && head * 2 >= items.length) {
        items.splice(0, head)
        head = 0
      }
      return item
    }

    const onMessage = (data: Buffer | ArrayBuffer | ReadonlyArray<Buffer>, isBinary: boolean) => {
      const bytes = toBuffer(data)
      queuedBytes += bytes.length
      if (!paused && queuedBytes >= highWaterBytes) {
        paused = true
        ws.pause()
      }
      offer({ bytes, isBinary })
    }
    const onClose = (code: number, reason: Buffer) =>
      offer({ _tag: "Ended", code, reason: reason.toString(), error: protocolError })
    const onError = (error: Error) => {
      // ws closes the socket after a protocol error (1009 too big, 1007 bad UTF-8, ...); "close" follows.
      protocolError = error.message
    }
    ws.on("message", onMessage)
    ws.on("close", onClose)
    ws.on("error", onError)

    yield* Finalizers.addFinalizer(
      Effect.sync(() => {
        ws.off("message", onMessage)
        ws.off("close", onClose)
        if (paused) ws.resume()
        items.length = 0
        head = 0
        waiter = undefined
        // Keep an error listener: an unhandled "error" event would crash the process.
      })
    )

    const taken = (item: Frame | Ended): Frame | Ended => {
      if ("_tag" in item) return item
      queuedBytes -= item.bytes.length
      if (paused && queuedBytes <= highWaterBytes / 2) {
        paused = false
        ws.resume()
      }
      return item
    }
    /** The next frame, or `Ended`; undefined when none came within `millis` (no limit when undefined). */
    const takeWithin = (millis: number | undefined): Effect.Effect<Frame | Ended | undefined> =>
      Effect.suspend(() => {
        const item = poll()
        if (item !== undefined) return Effect.succeed(taken(item))
        return Effect.async<Frame | Ended | undefined>((resume) => {
          const timer = millis === undefined ? undefined : setTimeout(() => {
            waiter = undefined
            resume(Effect.succeed(undefined))
          }, millis)
          waiter = (next) => {
            if (timer !== undefined) clearTimeout(timer)
            resume(Effect.succeed(taken(next)))
          }
          return Effect.sync(() => {
            if (timer !== undefined) clearTimeout(timer)
            waiter = undefined
          })
        })
      })
    const take = takeWithin(undefined) as Effect.Effect<Frame | Ended>
    return { take, takeWithin }
  }) satisfies Effect.Effect<{
    readonly take: Effect.Effect<Frame | Ended>
    readonly takeWithin: (millis: number | undefined) => Effect.Effect<Frame | Ended | undefined>
  }, never, Scope.Scope>
