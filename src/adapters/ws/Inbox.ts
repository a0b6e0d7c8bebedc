/**
 * A connection's inbound frames, queued for its single fiber and bounded in
 * bytes: when the queued frames reach `highWaterBytes` the socket is paused
 * (TCP then pushes back on the client) and it resumes below half of that.
 * Memory per connection is therefore about one frame in the ws parser plus
 * `highWaterBytes`, whatever the client sends.
 *
 * It yields the application's `Received` directly: each frame, then Gone
 * (the close code, and the protocol error that caused it) once the socket
 * has closed, or Quiet when nothing came within the wait's time.
 *
 * The queue is a plain array read by the connection's one fiber, and a wait
 * for the next frame can be bounded by a plain timer (the idle and stall
 * timeouts), so a frame costs no extra fiber or queue machinery.
 */
import { Duration, Effect, Option } from "effect"
import type { Scope } from "effect"
import type { WebSocket } from "ws"
import { frame, gone, type Next, quiet, type Received } from "../../application/session/Connection.js"
import * as Finalizers from "../../application/infrastructure/Finalizers.js"

const toBuffer = (data: Buffer | ArrayBuffer | ReadonlyArray<Buffer>): Buffer =>
  Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)

/** Taken slots at the front are dropped once there are this many (and they are at least half the array). */
const COMPACT_AFTER = 64

/**
 * Starts queueing `ws`'s frames. `take` yields them in arrival order, then
 * Gone once the socket has closed; `next` does the same within a time, and
 * yields Quiet when it runs out. Closing the scope stops listening and
 * resumes a paused socket, so a close handshake can still complete.
 */
export const attach = (ws: WebSocket, highWaterBytes: number) =>
  Effect.gen(function*() {
    const items: Array<Received | undefined> = []
    let head = 0
    let waiter: ((item: Received) => void) | undefined
    let queuedBytes = 0
    let paused = false
    let protocolError: string | undefined

    const offer = (item: Received) => {
      const taker = waiter
      if (taker !== undefined) {
        waiter = undefined
        taker(item)
      } else {
        items.push(item)
      }
    }
    const poll = (): Received | undefined => {
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
      offer(frame(bytes, isBinary))
    }
    const onClose = (code: number) => offer(gone(code, protocolError))
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

    const taken = (item: Received): Received => {
      if (item._tag !== "Frame") return item
      queuedBytes -= item.bytes.length
      if (paused && queuedBytes <= highWaterBytes / 2) {
        paused = false
        ws.resume()
      }
      return item
    }
    /** The next frame, or Gone; Quiet when none came within `millis` (no limit when undefined). */
    const takeWithin = (millis: number | undefined): Effect.Effect<Received> =>
      Effect.suspend(() => {
        const item = poll()
        if (item !== undefined) return Effect.succeed(taken(item))
        return Effect.async<Received>((resume) => {
          const timer = millis === undefined ? undefined : setTimeout(() => {
            waiter = undefined
            resume(Effect.succeed(quiet))
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
    const take = takeWithin(undefined)
    const next: Next = (within) => (Option.isNone(within) ? take : takeWithin(Duration.toMillis(within.value)))
    return { take, next }
  }) satisfies Effect.Effect<{
    /** The next frame, or Gone (never Quiet). */
    readonly take: Effect.Effect<Received>
    readonly next: Next
  }, never, Scope.Scope>
