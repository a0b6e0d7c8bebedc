import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Option, Scope } from "effect"
import { EventEmitter } from "node:events"
import type { WebSocket } from "ws"
import * as Inbox from "../../../src/adapters/ws/Inbox.js"
import { frame, quiet } from "../../../src/application/session/Connection.js"

/** Just enough of a ws socket: events in, pause/resume recorded. */
class FakeSocket extends EventEmitter {
  paused = false
  pauses = 0
  pause() {
    this.paused = true
    this.pauses++
  }
  resume() {
    this.paused = false
  }
  frame(bytes: number, isBinary = false) {
    this.emit("message", Buffer.alloc(bytes, 97), isBinary)
  }
}

const attach = (socket: FakeSocket, highWaterBytes: number) => Inbox.attach(socket as unknown as WebSocket, highWaterBytes)

describe("Inbox", () => {
  it.scoped("yields frames in order, marked text or binary, then Gone with the close code", () =>
    Effect.gen(function*() {
      const socket = new FakeSocket()
      const inbox = yield* attach(socket, 1_000)
      socket.emit("message", Buffer.from("{\"a\":1}"), false)
      socket.emit("message", Buffer.from([1, 2]), true)
      socket.emit("close", 1006, Buffer.from(""))
      expect(yield* inbox.take).toEqual(frame(Buffer.from("{\"a\":1}"), false))
      expect(yield* inbox.take).toEqual(frame(Buffer.from([1, 2]), true))
      expect(yield* inbox.take).toEqual({ _tag: "Gone", code: 1006, error: undefined })
    }))

  it.scoped("pauses the socket once the queued bytes reach the high-water mark and resumes below half", () =>
    Effect.gen(function*() {
      const socket = new FakeSocket()
      const inbox = yield* attach(socket, 1_000)
      socket.frame(400)
      socket.frame(400)
      expect(socket.paused).toBe(false)
      socket.frame(400) // 1,200 queued
      expect(socket.paused).toBe(true)
      yield* inbox.take // 800 queued
      expect(socket.paused).toBe(true)
      yield* inbox.take // 400 queued
      expect(socket.paused).toBe(false)
      expect(socket.pauses).toBe(1)
    }))

  it.effect("closing the scope resumes a paused socket and stops listening", () =>
    Effect.gen(function*() {
      const socket = new FakeSocket()
      const scope = yield* Scope.make()
      yield* Scope.extend(attach(socket, 100), scope)
      socket.frame(200)
      expect(socket.paused).toBe(true)
      yield* Scope.close(scope, Exit.void)
      expect(socket.paused).toBe(false)
      expect(socket.listenerCount("message")).toBe(0)
      expect(socket.listenerCount("error")).toBe(1) // kept: an unhandled "error" event would crash the process
    }))

  it.scoped("reports the protocol error that closed the socket", () =>
    Effect.gen(function*() {
      const socket = new FakeSocket()
      const inbox = yield* attach(socket, 100)
      socket.emit("error", new RangeError("Max payload size exceeded"))
      socket.emit("close", 1009, Buffer.from(""))
      expect(yield* inbox.take).toEqual({ _tag: "Gone", code: 1009, error: "Max payload size exceeded" })
    }))

  it.live("next gives Quiet after its time when no frame comes, and returns a frame that comes in time", () =>
    Effect.gen(function*() {
      const socket = new FakeSocket()
      const inbox = yield* attach(socket, 1_000)
      const started = Date.now()
      expect(yield* inbox.next(Option.some(Duration.millis(50)))).toBe(quiet)
      expect(Date.now() - started).toBeGreaterThanOrEqual(45)
      setTimeout(() => socket.frame(3), 20)
      expect(yield* inbox.next(Option.some(Duration.seconds(2)))).toEqual(frame(Buffer.alloc(3, 97), false))
      // The abandoned wait's timer is gone: a later frame is queued, not handed to it.
      socket.frame(4)
      expect(yield* inbox.next(Option.none())).toEqual(frame(Buffer.alloc(4, 97), false))
    }).pipe(Effect.scoped))
})
