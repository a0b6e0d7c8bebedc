/**
 * Digests on worker threads (node:worker_threads), so that hashing, the
 * heaviest work an upload does, runs beside the event loop instead of on it.
 *
 * Each upload's digest lives on one worker (a hash's state cannot move
 * between threads), chosen in turn. `update` copies the bytes into a buffer
 * and transfers it to that worker, which hashes them and transfers the
 * buffer back with their length; messages between two threads keep their
 * order, so the result comes after every update. Buffers come back to a
 * pool, so copies cost neither allocations nor garbage on either thread. The copies not acknowledged yet,
 * across all digests, are bounded by `backlogBytes`: past it, `caughtUp`
 * waits, except for a digest with nothing queued (so none waits for the
 * others forever).
 *
 * An upload smaller than `onThreadBelow` is hashed on the calling thread: a
 * round trip to a worker costs more than its hash. A worker that dies (a
 * bug) fails its digests as defects (their uploads stay resumable) and is
 * replaced by the next digest placed on it. Workers start when first
 * needed, so a server that receives only small files runs none. A digest
 * dropped without `hex` or `abandon` is ended when collected.
 */
import { Effect, Layer, Runtime } from "effect"
import { availableParallelism } from "node:os"
import { Worker } from "node:worker_threads"
import { Digests, onThisThread, type RunningDigest } from "../../application/ports/Digests.js"

export interface WorkerDigestSettings {
  /** Worker threads; 0 hashes every upload on the calling thread. */
  readonly threads: number
  /** Uploads smaller than this (bytes) are hashed on the calling thread. */
  readonly onThreadBelow: number
  /** Most bytes copied to the workers and not hashed yet, all digests together. */
  readonly backlogBytes: number
}

/** The default number of threads: one per core but one (the event loop's), at most 4. */
export const defaultThreads = (): number => Math.max(0, Math.min(4, availableParallelism() - 1))

const UPDATE = 0
const HEX = 1
const DROP = 2

// CommonJS, evaluated as the worker's script: one file whatever runs the service (the bundle, tsx, vitest).
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads")
const { createHash } = require("node:crypto")
const running = new Map()
parentPort.on("message", ([op, id, buffer, length]) => {
  if (op === ${UPDATE}) {
    let hash = running.get(id)
    if (hash === undefined) running.set(id, hash = createHash("sha256"))
    hash.update(new Uint8Array(buffer, 0, length))
    parentPort.postMessage([id, length, buffer], [buffer])
  } else if (op === ${HEX}) {
    const hash = running.get(id) ?? createHash("sha256")
    running.delete(id)
    parentPort.postMessage([id, hash.digest("hex")])
  } else {
    running.delete(id)
  }
})
`

/** What the event loop knows of one digest on a worker. */
interface Pending {
  readonly slot: number
  /** Bytes sent and not acknowledged. */
  behind: number
  ended: boolean
  broken: boolean
  /** Resumes a `caughtUp` waiting on this digest. */
  wake: (() => void) | undefined
  /** Resumes the `hex` waiting for the result. */
  settle: ((hex: string | undefined) => void) | undefined
}

export const make = (settings: WorkerDigestSettings) =>
  Effect.gen(function*() {
    if (settings.threads <= 0) return { sha256: () => Effect.sync(onThisThread) }
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const pending = new Map<number, Pending>()
    const waiting = new Set<Pending>()
    let backlog = 0
    let nextId = 0
    let turn = 0
    /** Started when first needed, so that a server that receives only small files runs none. */
    const workers: Array<Worker | undefined> = []

    const forget = (id: number, entry: Pending) => {
      pending.delete(id)
      backlog -= entry.behind
      entry.behind = 0
      wakeAll()
    }
    const wakeAll = () => {
      if (backlog > settings.backlogBytes) return
      for (const entry of waiting) entry.wake?.()
    }
    /** Buffers back from the workers, for the next copies; at most `backlogBytes` of them. */
    const pool: Array<ArrayBuffer> = []
    let pooled = 0
    const bufferFor = (length: number): ArrayBuffer => {
      const buffer = pool.pop()
      if (buffer !== undefined) {
        pooled -= buffer.byteLength
        if (buffer.byteLength >= length) return buffer
      }
      // Not zero-filled: every byte hashed is written first.
      return Buffer.allocUnsafeSlow(length).buffer as ArrayBuffer
    }
    const giveBack = (buffer: ArrayBuffer) => {
      if (pooled + buffer.byteLength > settings.backlogBytes) return
      pool.push(buffer)
      pooled += buffer.byteLength
    }
    const onMessage = ([id, value, buffer]: [number, number | string, ArrayBuffer?]) => {
      if (buffer !== undefined) giveBack(buffer)
      const entry = pending.get(id)
      if (entry === undefined) return
      if (typeof value === "string") {
        forget(id, entry)
        entry.settle?.(value)
        return
      }
      entry.behind -= value
      backlog -= value
      if (entry.behind === 0) entry.wake?.()
      wakeAll()
    }
    const spawn = (slot: number) => {
      const worker = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 } })
      worker.unref()
      worker.on("message", onMessage)
      worker.on("error", (error) => runFork(Effect.logError("a digest thread failed").pipe(Effect.annotateLogs({ error: String(error) }))))
      worker.on("exit", () => {
        for (const [id, entry] of pending) {
          if (entry.slot !== slot) continue
          entry.broken = true
          forget(id, entry)
          entry.wake?.()
          entry.settle?.(undefined)
        }
        // The next digest placed on this slot starts a new one.
        if (workers[slot] === worker) workers[slot] = undefined
      })
      return worker
    }
    const workerFor = (slot: number): Worker => {
      const running = workers[slot]
      if (running !== undefined) return running
      const started = spawn(slot)
      workers[slot] = started
      return started
    }
    yield* Effect.addFinalizer(() =>
      Effect.promise(() => {
        return Promise.all(workers.map((worker) => worker?.terminate()))
      })
    )
    // A digest nobody ended (a bug elsewhere) would keep its hash on the worker: it goes when the digest is collected.
    const collected = new FinalizationRegistry<number>((id) => {
      const entry = pending.get(id)
      if (entry === undefined) return
      forget(id, entry)
      workers[entry.slot]?.postMessage([DROP, id])
    })
    const broken = Effect.dieMessage("the digest thread died")

    const onWorker = (): RunningDigest => {
      const id = nextId++
      const slot = turn++ % settings.threads
      const entry: Pending = { slot, behind: 0, ended: false, broken: false, wake: undefined, settle: undefined }
      pending.set(id, entry)
      const post = (message: ReadonlyArray<unknown>, transfer?: Array<ArrayBuffer>) => workerFor(slot).postMessage(message, transfer)
      const end = () => {
        entry.ended = true
        collected.unregister(digest)
      }
      const digest: RunningDigest = {
        update: (bytes) => {
          if (entry.ended || entry.broken || bytes.byteLength === 0) return
          const buffer = bufferFor(bytes.byteLength)
          new Uint8Array(buffer, 0, bytes.byteLength).set(bytes)
          entry.behind += bytes.byteLength
          backlog += bytes.byteLength
          post([UPDATE, id, buffer, bytes.byteLength], [buffer])
        },
        caughtUp: Effect.suspend(() => {
          if (entry.broken) return broken
          if (entry.behind === 0 || backlog <= settings.backlogBytes) return Effect.void
          return Effect.async<void>((resume) => {
            waiting.add(entry)
            entry.wake = () => {
              entry.wake = undefined
              waiting.delete(entry)
              resume(entry.broken ? broken : Effect.void)
            }
            return Effect.sync(() => {
              entry.wake = undefined
              waiting.delete(entry)
            })
          })
        }),
        hex: Effect.suspend(() => {
          if (entry.broken) return broken
          if (entry.ended) return Effect.dieMessage("the digest has ended")
          end()
          return Effect.async<string>((resume) => {
            entry.settle = (hex) => resume(hex === undefined ? broken : Effect.succeed(hex))
            post([HEX, id])
          })
        }),
        abandon: Effect.sync(() => {
          if (entry.ended) return
          end()
          if (entry.broken) return
          forget(id, entry)
          post([DROP, id])
        })
      }
      collected.register(digest, id, digest)
      return digest
    }

    return {
      sha256: (size: number) => Effect.sync(() => (size < settings.onThreadBelow ? onThisThread() : onWorker()))
    }
  })

export const layer = (settings: WorkerDigestSettings) => Layer.scoped(Digests, make(settings))
