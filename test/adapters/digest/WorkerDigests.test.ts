/**
 * WorkerDigests against node:crypto on this thread: the same digests,
 * interleaved across threads; the backlog bound that keeps memory to a few
 * chunks; small uploads kept on the calling thread; a digest ended once.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Option } from "effect"
import { createHash, randomBytes } from "node:crypto"
import * as WorkerDigests from "../../../src/adapters/digest/WorkerDigests.js"
import { Digests } from "../../../src/application/ports/Digests.js"

const MiB = 1024 * 1024
const expected = (parts: ReadonlyArray<Uint8Array>) => {
  const hash = createHash("sha256")
  for (const part of parts) hash.update(part)
  return hash.digest("hex")
}

const withDigests = <A, E>(settings: WorkerDigests.WorkerDigestSettings, body: (digests: Digests["Type"]) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(WorkerDigests.make(settings), body))

describe("WorkerDigests", () => {
  it.live("digests interleaved across two threads equal node:crypto's, whatever the chunking", () =>
    withDigests({ threads: 2, onThreadBelow: 0, backlogBytes: 4 * MiB }, (digests) =>
      Effect.gen(function*() {
        const files = Array.from({ length: 6 }, (_, i) => Array.from({ length: 5 + i }, (_, j) => randomBytes(1 + ((i * 7919 + j * 104729) % 300_000))))
        const running = yield* Effect.forEach(files, () => digests.sha256(MiB))
        for (let round = 0; round < 11; round++) {
          for (const [i, parts] of files.entries()) {
            const part = parts[round]
            if (part !== undefined) running[i]!.update(part)
          }
          yield* Effect.forEach(running, (digest) => digest.caughtUp, { discard: true })
        }
        const hexes = yield* Effect.forEach(running, (digest) => digest.hex)
        expect(hexes).toEqual(files.map(expected))
      })))

  it.live("the bytes may be reused once update returns: the digest has its own copy", () =>
    withDigests({ threads: 1, onThreadBelow: 0, backlogBytes: 64 * MiB }, (digests) =>
      Effect.gen(function*() {
        const digest = yield* digests.sha256(MiB)
        const buffer = Buffer.alloc(64 * 1024, 1)
        digest.update(buffer)
        buffer.fill(2)
        digest.update(buffer)
        expect(yield* digest.hex).toBe(expected([Buffer.alloc(64 * 1024, 1), Buffer.alloc(64 * 1024, 2)]))
      })))

  it.live("past the backlog bound, caughtUp waits until the worker has hashed enough; a digest with nothing queued never waits", () =>
    withDigests({ threads: 1, onThreadBelow: 0, backlogBytes: MiB }, (digests) =>
      Effect.gen(function*() {
        const busy = yield* digests.sha256(64 * MiB)
        const idle = yield* digests.sha256(64 * MiB)
        const part = randomBytes(4 * MiB)
        for (let i = 0; i < 8; i++) busy.update(part)
        const waiting = yield* Effect.fork(busy.caughtUp)
        yield* Effect.yieldNow()
        expect(Option.isNone(yield* Fiber.poll(waiting))).toBe(true)
        // The other digest has nothing queued: it goes on although the backlog is over the bound.
        yield* idle.caughtUp
        expect(Exit.isSuccess(yield* Fiber.await(waiting))).toBe(true)
        expect(yield* busy.hex).toBe(expected(Array.from({ length: 8 }, () => part)))
        expect(yield* idle.hex).toBe(expected([]))
      })))

  it.live("an upload smaller than onThreadBelow is hashed on the calling thread: caughtUp never waits", () =>
    withDigests({ threads: 1, onThreadBelow: MiB, backlogBytes: 1 }, (digests) =>
      Effect.gen(function*() {
        const digest = yield* digests.sha256(MiB - 1)
        const part = randomBytes(MiB - 1)
        digest.update(part)
        const caughtUp = yield* Effect.fork(digest.caughtUp)
        yield* Effect.yieldNow()
        expect(Option.isSome(yield* Fiber.poll(caughtUp))).toBe(true)
        expect(yield* digest.hex).toBe(expected([part]))
      })))

  it.live("no threads: every digest on the calling thread", () =>
    withDigests({ threads: 0, onThreadBelow: 0, backlogBytes: 1 }, (digests) =>
      Effect.gen(function*() {
        const digest = yield* digests.sha256(64 * MiB)
        digest.update(Buffer.from("abc"))
        expect(yield* digest.hex).toBe(expected([Buffer.from("abc")]))
      })))

  it.live("a digest ends once: abandoned, it takes no bytes and has no result; abandon is idempotent", () =>
    withDigests({ threads: 1, onThreadBelow: 0, backlogBytes: MiB }, (digests) =>
      Effect.gen(function*() {
        const digest = yield* digests.sha256(MiB)
        digest.update(randomBytes(2 * MiB))
        yield* digest.abandon
        yield* digest.abandon
        digest.update(randomBytes(10))
        yield* digest.caughtUp
        expect(Exit.isFailure(yield* Effect.exit(digest.hex))).toBe(true)
        // The backlog it left is not counted against the others.
        const next = yield* digests.sha256(MiB)
        next.update(Buffer.from("x"))
        yield* next.caughtUp
        expect(yield* next.hex).toBe(expected([Buffer.from("x")]))
      })))

  it.live("the default is one thread per core but the event loop's, at most four", () =>
    Effect.sync(() => {
      expect(WorkerDigests.defaultThreads()).toBeGreaterThanOrEqual(0)
      expect(WorkerDigests.defaultThreads()).toBeLessThanOrEqual(4)
    }))
})
