/**
 * Effect steps per upload and per chunk: how many operations Effect's run
 * loop evaluates for the server's work, counted by a Supervisor
 * (RuntimeFlags.OpSupervision calls its onEffect for every operation of
 * every fiber). The real service layer (Server.layer, as main runs it, on
 * port 0, the filesystem store, the in-memory limiter, limits raised as in
 * `npm run bench`, digests on the event loop's thread so that the counts do
 * not depend on the digest threads' timing) and a `ws` client share this
 * process; the client runs no Effect, so every step counted is the server's.
 *
 * These are counts, not times: they do not drift with the machine's noise
 * (a timed A/B here moves by 10% between runs), so they show what a change
 * to a hot path saves, step by step. What a step costs is not constant
 * (a `Sync` may run a hash), so a time or CPU measurement still decides
 * whether a saving matters (docs/performance.md).
 *
 *   npm run bench:steps
 *   STEPS_DETAIL=1 npm run bench:steps    # also the most frequent kinds of step
 *
 * Every loop is bounded; traffic stays on loopback.
 */
import { ConfigProvider, Effect, Layer, Logger, LogLevel, ManagedRuntime, MetricLabel, RuntimeFlags, Supervisor } from "effect"
import type { Exit, Fiber } from "effect"
import { mkdtemp, rm, writeFile } from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { ServerAddress } from "../src/adapters/ws/WebSocketServer.js"
import * as Metrics from "../src/application/infrastructure/Metrics.js"
import * as Server from "../src/Server.js"
import { CHUNK_BYTES } from "./scenarios.js"
import { environment } from "./servers.js"
import { inBatches } from "./batches.js"
import { uploadOverWs } from "./ws-client.js"

const detail = process.env["STEPS_DETAIL"] === "1" || process.env["STEPS_DETAIL"] === "2"
const deep = process.env["STEPS_DETAIL"] === "2"
const sources = new WeakMap<object, string>()
const sourceOf = (f: unknown): string => {
  if (typeof f !== "function") return ""
  let source = sources.get(f)
  if (source === undefined) {
    source = String(f).replace(/\s+/g, " ").slice(0, 100)
    sources.set(f, source)
  }
  return source
}
const SMALL_UPLOADS = 200
const SMALL_CONCURRENCY = 8
const CHUNKS = 64

/** Counts every step of every fiber, and, with `detail`, the steps by kind. */
class StepCounter extends Supervisor.AbstractSupervisor<void> {
  steps = 0
  fibers = 0
  readonly kinds = new Map<string, number>()
  get value() {
    return Effect.void
  }
  override onStart<A, E, R>(_context: unknown, _effect: Effect.Effect<A, E, R>, _parent: unknown, _fiber: Fiber.RuntimeFiber<A, E>) {
    this.fibers++
  }
  override onEnd<A, E>(_value: Exit.Exit<A, E>, _fiber: Fiber.RuntimeFiber<A, E>) {}
  override onEffect<A, E>(_fiber: Fiber.RuntimeFiber<A, E>, effect: Effect.Effect<unknown, unknown, unknown>) {
    this.steps++
    if (!detail) return
    // `_op` is the operation's kind inside Effect's run loop (Sync, OnSuccess, Async, ...), and with STEPS_DETAIL=2
    // the start of its function's source: not public API, fine for a measurement.
    const op = effect as unknown as { readonly _op?: unknown; readonly effect_instruction_i0?: unknown; readonly effect_instruction_i1?: unknown }
    const kind = String(op._op ?? "other") + (deep ? ` ${sourceOf(op.effect_instruction_i1 ?? op.effect_instruction_i0)}` : "")
    this.kinds.set(kind, (this.kinds.get(kind) ?? 0) + 1)
    if (this.trace !== undefined && this.trace.length < 5000) this.trace.push(kind)
  }
  trace: Array<string> | undefined = undefined
  reset() {
    this.steps = 0
    this.fibers = 0
    this.kinds.clear()
  }
}

const counter = new StepCounter()

const QUIET_MILLIS = 50
const SETTLE_LIMIT_MILLIS = 10_000
/** How long one upload may take before the measurement fails (nothing here should come near it). */
const UPLOAD_TIMEOUT_MILLIS = 15_000

/**
 * Resolves once the server has finished what follows the last reply (a connection's close, its finalizers):
 * no connection open and no step for QUIET_MILLIS, checked up to SETTLE_LIMIT_MILLIS.
 */
const settled = async (openConnections: () => Promise<number>) => {
  const deadline = Date.now() + SETTLE_LIMIT_MILLIS
  let seen = -1
  while (Date.now() < deadline) {
    if (counter.steps === seen && (await openConnections()) === 0) return
    seen = counter.steps
    await new Promise((resolve) => setTimeout(resolve, QUIET_MILLIS))
  }
  throw new Error(`the server did not settle within ${SETTLE_LIMIT_MILLIS} ms`)
}

/** The steps and fibers `run` costs the server, with the counter reset before it and read once the server is quiet. */
const counted = async (run: () => Promise<unknown>, openConnections: () => Promise<number>) => {
  await settled(openConnections)
  counter.reset()
  await run()
  await settled(openConnections)
  return { steps: counter.steps, fibers: counter.fibers, kinds: new Map(counter.kinds) }
}

const topKinds = (kinds: ReadonlyMap<string, number>, per: number) =>
  [...kinds].sort((a, b) => b[1] - a[1]).slice(0, deep ? 40 : 12).map(([kind, n]) => `${kind} ${(n / per).toFixed(1)}`).join(deep ? "\n    " : ", ")

export interface StepCounts {
  /** Steps per small upload (16 KiB, seed protocol, a connection each). */
  readonly perSmallUpload: number
  readonly fibersPerSmallUpload: number
  /** Steps per 256 KiB chunk, stop-and-wait, once the upload is open. */
  readonly perSeedChunk: number
  readonly perBinaryChunk: number
}

/**
 * Starts the service in this process with the counter, warms it up, and counts `smallUploads` small uploads and
 * `chunks` chunks of each kind. `report` hears each figure as it is measured.
 */
export const measureSteps = async (
  { chunks = CHUNKS, report = () => undefined, smallUploads = SMALL_UPLOADS }: {
    readonly smallUploads?: number
    readonly chunks?: number
    readonly report?: (line: string) => void
  } = {}
): Promise<StepCounts> => {
  const directory = await mkdtemp(path.join(os.tmpdir(), "fr-steps-"))
  // The bench's environment for the project (limits raised, content check off, info-level lines), digests on this
  // thread: with digest threads, whether a chunk waits for its digest (one Async step more) depends on the threads'
  // timing, and the counts would too.
  const settings = { ...environment("project", directory), DIGEST_THREADS: "0" }
  const config = new Map(Object.entries(settings).flatMap(([name, value]) => (value === undefined ? [] : [[name, value] as const])))
  // Info-level lines are made as in production (their steps count), then dropped.
  const quietLogs = Layer.merge(Logger.replace(Logger.defaultLogger, Logger.make(() => undefined)), Logger.minimumLogLevel(LogLevel.Info))
  const runtime = ManagedRuntime.make(
    Server.layer.pipe(
      Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(config))),
      Layer.provide(Layer.mergeAll(quietLogs, Supervisor.addSupervisor(counter), RuntimeFlags.enableOpSupervision))
    )
  )
  try {
    const { port } = await runtime.runPromise(ServerAddress)
    const url = `ws://127.0.0.1:${port}/ws/file-transfer/`
    const upload = (name: string, size: number, binary: boolean, chunkBytes = CHUNK_BYTES) =>
      uploadOverWs(url, { fileName: `${name}.pdf`, payload: { seed: size, size }, chunkBytes, binary, window: 1, replyTimeoutMillis: UPLOAD_TIMEOUT_MILLIS })
    // The server's own gauge, read without an Effect (one would add steps to the count it waits on).
    const websocket = [MetricLabel.make("transport", "websocket")]
    const openConnections = () => Promise.resolve(Metrics.activeConnections.unsafeValue(websocket).value)

    // Warm up: the first uploads compile the hot paths and fill caches.
    await inBatches(50, SMALL_CONCURRENCY, (index) => upload(`warm-${index}`, 16 * 1024, false, 16 * 1024))
    await upload("warm-seed", chunks * CHUNK_BYTES, false)
    await upload("warm-binary", chunks * CHUNK_BYTES, true)

    if (process.env["STEPS_TRACE"] !== undefined) {
      counter.trace = []
      await upload("traced", 16 * 1024, false, 16 * 1024)
      await settled(openConnections)
      await writeFile(process.env["STEPS_TRACE"], counter.trace.join("\n") + "\n")
      counter.trace = undefined
    }
    const small = await counted(
      () => inBatches(smallUploads, SMALL_CONCURRENCY, (index) => upload(`small-${index}`, 16 * 1024, false, 16 * 1024)),
      openConnections
    )
    const perSmallUpload = small.steps / smallUploads
    const fibersPerSmallUpload = small.fibers / smallUploads
    report(
      `small upload (16 KiB, seed protocol, a connection each, ${SMALL_CONCURRENCY} at a time): ` +
        `${perSmallUpload.toFixed(0)} steps, ${fibersPerSmallUpload.toFixed(2)} fibers per upload`
    )
    if (detail) report(`  by kind, per upload: ${topKinds(small.kinds, smallUploads)}`)

    const perChunk: Array<number> = []
    for (const binary of [false, true]) {
      // One chunk, then chunks + 1: the difference is what `chunks` more chunks cost, without the upload's start and end.
      const one = await counted(() => upload(`one-${binary}`, CHUNK_BYTES, binary), openConnections)
      const many = await counted(() => upload(`many-${binary}`, (chunks + 1) * CHUNK_BYTES, binary), openConnections)
      perChunk.push((many.steps - one.steps) / chunks)
      report(
        `${binary ? "binary frame" : "seed chunk (base64 JSON)"}, 256 KiB, stop-and-wait: ${perChunk.at(-1)!.toFixed(1)} steps per chunk ` +
          `(an upload of one chunk: ${one.steps})`
      )
      if (detail) {
        const extra = new Map([...many.kinds].map(([kind, n]) => [kind, n - (one.kinds.get(kind) ?? 0)]))
        report(`  by kind, per chunk: ${topKinds(extra, chunks)}`)
      }
    }
    return { perSmallUpload, fibersPerSmallUpload, perSeedChunk: perChunk[0]!, perBinaryChunk: perChunk[1]! }
  } finally {
    try {
      await runtime.dispose()
    } finally {
      await rm(directory, { recursive: true, force: true })
    }
  }
}

// Run as a script (npm run bench:steps), not when a test imports it.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  measureSteps({ report: (line) => console.log(line) }).catch((error: unknown) => {
    console.error(error)
    process.exitCode = 1
  })
}
