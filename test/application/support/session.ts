/**
 * What the application tests share: the in-memory backends as layers, a
 * session on a connection that records what it is sent, the frames a client
 * sends, and the store's faults the tests inject.
 *
 * `layerPerTest` is `it.layer` with one difference: it builds its layer
 * afresh for each test. `it.layer` builds it once for the whole block, and
 * these backends hold state (stored files, counts per client, claims,
 * events) and the TestClock: shared, one test's uploads and clock would
 * leak into the next.
 */
import { describe, it } from "@effect/vitest"
import type { TestServices } from "effect"
import { Effect, Exit, HashMap, Layer, Metric, Option, Ref, Scope } from "effect"
import { createHash } from "node:crypto"
import * as MemoryConcurrencyLimiter from "../../../src/adapters/memory/MemoryConcurrencyLimiter.js"
import * as MemoryFileStore from "../../../src/adapters/memory/MemoryFileStore.js"
import { MemoryFiles } from "../../../src/adapters/memory/MemoryFileStore.js"
import * as MemoryRateLimiter from "../../../src/adapters/memory/MemoryRateLimiter.js"
import * as MemoryUploadEvents from "../../../src/adapters/memory/MemoryUploadEvents.js"
import { RecordedEvents } from "../../../src/adapters/memory/MemoryUploadEvents.js"
import * as MemoryUploadRegistry from "../../../src/adapters/memory/MemoryUploadRegistry.js"
import * as WorkerDigests from "../../../src/adapters/digest/WorkerDigests.js"
import type { ConcurrencyLimiter } from "../../../src/application/ports/ConcurrencyLimiter.js"
import { FileStore, FileStoreError, type PartialFile } from "../../../src/application/ports/FileStore.js"
import type { RateLimiter } from "../../../src/application/ports/RateLimiter.js"
import type { UploadEndReason, UploadEvents } from "../../../src/application/ports/UploadEvents.js"
import * as Metrics from "../../../src/application/infrastructure/Metrics.js"
import type { UploadRegistry } from "../../../src/application/ports/UploadRegistry.js"
import * as UploadSession from "../../../src/application/session/UploadSession.js"

// ---------------------------------------------------------------------------------------------
// Backends

/** Everything a session needs, in memory, plus read access for assertions (MemoryFiles, RecordedEvents). */
export type Backends = FileStore | MemoryFiles | RateLimiter | ConcurrencyLimiter | UploadRegistry | UploadEvents | RecordedEvents

/** A backend to use instead of the memory one (a faulty store, a failing limiter, a stub registry). */
export interface BackendOverrides {
  readonly store?: Layer.Layer<FileStore | MemoryFiles>
  readonly rateLimiter?: Layer.Layer<RateLimiter>
  readonly concurrency?: Layer.Layer<ConcurrencyLimiter>
  readonly registry?: Layer.Layer<UploadRegistry>
  /** Where digests run (Digests); on the calling thread when absent. */
  readonly digests?: Layer.Layer<never>
}

/** The memory backends, each fresh whenever the layer is built; events are recorded. */
export const backends = (overrides: BackendOverrides = {}): Layer.Layer<Backends> =>
  Layer.mergeAll(
    overrides.store ?? MemoryFileStore.layerMemory,
    overrides.rateLimiter ?? MemoryRateLimiter.layerMemory,
    overrides.concurrency ?? MemoryConcurrencyLimiter.layerMemory,
    overrides.registry ?? MemoryUploadRegistry.layerMemory,
    MemoryUploadEvents.layerMemory,
    overrides.digests ?? Layer.empty
  )

/**
 * Both places digests run: suites about the digest run once for each. The
 * workers' backlog is a few bytes, so that every chunk waits for its hash.
 */
export const digestPlacements: ReadonlyArray<readonly [string, Layer.Layer<never>]> = [
  ["on the calling thread", Layer.empty],
  ["on worker threads", WorkerDigests.layer({ threads: 2, onThreadBelow: 0, backlogBytes: 4 })]
]

/** UploadSession.layer(settings) over `given`, which it is built with and which the test sees too. */
export const sessionOver = <A, E>(settings: UploadSession.SessionSettings, given: Layer.Layer<A, E>) =>
  Layer.provideMerge(UploadSession.layer(settings), given)

/** UploadSession.layer(settings) over the memory backends (with `overrides`). */
export const sessionLayer = (settings: UploadSession.SessionSettings, overrides: BackendOverrides = {}) =>
  sessionOver(settings, backends(overrides))

type TestBody<A, E, R> = () => Effect.Effect<A, E, R | TestServices.TestServices>

/** `it.effect`, with `layer` built for each test. */
export interface PerTestEffect<R> {
  <A, E>(name: string, self: TestBody<A, E, R>, timeout?: number): void
  /** A test that is known to fail (say, a bug owned elsewhere): it passes while its assertions fail. */
  readonly fails: <A, E>(name: string, self: TestBody<A, E, R>, timeout?: number) => void
}

/** What `layerPerTest` hands its block: `it.effect` and `it.scoped` with the layer provided. */
export interface PerTestMethods<R> {
  readonly effect: PerTestEffect<R>
  readonly scoped: PerTestEffect<R | Scope.Scope>
}

/**
 * Like `it.layer(layer)`: `layerPerTest(layer)((it) => ...)`, or with a name
 * for a describe block; but every test gets a layer of its own (see above).
 */
export const layerPerTest = <R, E>(layer: Layer.Layer<R, E>) => {
  // The casts say what TypeScript cannot work out for a generic R: providing `layer` leaves only the test services.
  const provided = <A, E2>(self: Effect.Effect<A, E2, R | TestServices.TestServices>) =>
    Effect.provide(self, layer) as Effect.Effect<A, E | E2, TestServices.TestServices>
  const scoped = <A, E2>(self: Effect.Effect<A, E2, R | Scope.Scope | TestServices.TestServices>) =>
    Effect.scoped(Effect.provide(self, layer) as Effect.Effect<A, E | E2, Scope.Scope | TestServices.TestServices>)
  const methods: PerTestMethods<R> = {
    effect: Object.assign(
      <A, E2>(name: string, self: TestBody<A, E2, R>, timeout?: number) => it.effect(name, () => provided(self()), timeout),
      { fails: <A, E2>(name: string, self: TestBody<A, E2, R>, timeout?: number) => it.effect.fails(name, () => provided(self()), timeout) }
    ),
    scoped: Object.assign(
      <A, E2>(name: string, self: TestBody<A, E2, R | Scope.Scope>, timeout?: number) => it.effect(name, () => scoped(self()), timeout),
      { fails: <A, E2>(name: string, self: TestBody<A, E2, R | Scope.Scope>, timeout?: number) => it.effect.fails(name, () => scoped(self()), timeout) }
    )
  }
  function define(body: (it: PerTestMethods<R>) => void): void
  function define(name: string, body: (it: PerTestMethods<R>) => void): void
  function define(nameOrBody: string | ((it: PerTestMethods<R>) => void), body?: (it: PerTestMethods<R>) => void): void {
    if (typeof nameOrBody === "string") describe(nameOrBody, () => body?.(methods))
    else nameOrBody(methods)
  }
  return define
}

// ---------------------------------------------------------------------------------------------
// Frames

/** The client address sessions are opened for unless a test says otherwise. */
export const CLIENT_ADDRESS = "192.0.2.1"

/** A file_meta for `file_name` of `file_size` bytes, with `fields` (upload_id, sha256) added. */
export const meta = (file_name: string, file_size: number, fields: Record<string, unknown> = {}) =>
  JSON.stringify({ type: "file_meta", file_name, file_size, ...fields })
/** A file_meta of exactly `fields` (to send one with fields missing or wrong). */
export const metaOf = (fields: Record<string, unknown>) => JSON.stringify({ type: "file_meta", ...fields })
/** A file_chunk with `text` in base64, at `offset` when given. */
export const chunk = (text: string, offset?: number) =>
  JSON.stringify({ type: "file_chunk", chunk: Buffer.from(text).toString("base64"), ...(offset === undefined ? {} : { offset }) })
/** A binary chunk. */
export const binary = (bytes: string | Uint8Array) => UploadSession.binaryFrame(typeof bytes === "string" ? Buffer.from(bytes) : bytes)
export const cancel = JSON.stringify({ type: "cancel" })

export const sha256 = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex")
export const uploadIdOf = (reply: Record<string, unknown> | undefined) => String(reply?.["upload_id"])

// ---------------------------------------------------------------------------------------------
// Sessions

type Sessions = UploadSession.UploadSession["Type"]
type Reply = Record<string, unknown>

/** A session on a recording connection, in a scope of its own (closing it is the connection dropping). */
export interface TestSession {
  readonly session: Effect.Effect.Success<ReturnType<Sessions["open"]>>
  readonly scope: Scope.CloseableScope
  /** Sends each frame (text, or a Frame) in turn; the verdicts. */
  readonly receive: (...frames: ReadonlyArray<string | UploadSession.Frame>) => Effect.Effect<ReadonlyArray<UploadSession.Verdict>>
  /** Every reply so far, parsed. */
  readonly replies: Effect.Effect<ReadonlyArray<Reply>>
  readonly types: Effect.Effect<ReadonlyArray<unknown>>
  readonly last: Effect.Effect<Reply | undefined>
  /** The upload id of the first meta_received. */
  readonly uploadId: Effect.Effect<string>
  /** The close code, once the session closed the connection. */
  readonly closed: Effect.Effect<Option.Option<number>>
  /** Drops the connection. */
  readonly end: Effect.Effect<void>
}

export interface ConnectionOptions {
  readonly clientAddress?: string
  readonly identity?: string | undefined
}

/** Opens a session of `sessions` on a recording connection. */
export const openOn = (sessions: Sessions, options: ConnectionOptions = {}): Effect.Effect<TestSession> =>
  Effect.gen(function*() {
    const sent = yield* Ref.make<ReadonlyArray<Reply>>([])
    const closed = yield* Ref.make<Option.Option<number>>(Option.none())
    const scope = yield* Scope.make()
    const session = yield* Scope.extend(
      sessions.open({
        clientAddress: options.clientAddress ?? CLIENT_ADDRESS,
        identity: options.identity,
        send: (reply) => Ref.update(sent, (all) => [...all, JSON.parse(reply) as Reply]),
        close: (code) => Ref.set(closed, Option.some(code))
      }),
      scope
    )
    const replies = Ref.get(sent)
    return {
      session,
      scope,
      receive: (...frames) =>
        Effect.forEach(frames, (frame) => session.receive(typeof frame === "string" ? UploadSession.textFrame(frame) : frame)),
      replies,
      types: Effect.map(replies, (all) => all.map((reply) => reply["type"])),
      last: Effect.map(replies, (all) => all.at(-1)),
      uploadId: Effect.map(replies, (all) => uploadIdOf(all.find((reply) => reply["type"] === "meta_received"))),
      closed: Ref.get(closed),
      end: Scope.close(scope, Exit.void)
    }
  })

/** Opens a session of the UploadSession in context. */
export const openSession = (options: ConnectionOptions = {}) =>
  Effect.flatMap(UploadSession.UploadSession, (sessions) => openOn(sessions, options))

/** Starts `name` on a session of its own, sends `texts` as chunks, and drops the connection: the upload's id (kept for a resume). */
export const suspendedUpload = (name: string, size: number, ...texts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const s = yield* openSession()
    yield* s.receive(meta(name, size), ...texts.map((text) => chunk(text)))
    yield* s.end
    return yield* s.uploadId
  })

// ---------------------------------------------------------------------------------------------
// What the backends hold

export const committed = Effect.flatMap(MemoryFiles, (files) => files.committed)
export const committedText = (name: string) =>
  Effect.map(committed, (map) => Option.map(HashMap.get(map, name), (bytes) => Buffer.from(bytes).toString()))
export const partialIds = Effect.flatMap(MemoryFiles, (files) => files.partialIds)
export const openPartials = Effect.flatMap(MemoryFiles, (files) => files.openPartials)
export const events = Effect.flatMap(RecordedEvents, (recorded) => recorded.all)
/** What file_receiver_uploads_failed_total{reason} counts so far (metrics are global: compare before and after). */
export const failedUploads = (reason: UploadEndReason) => Effect.map(Metric.value(Metrics.uploadsFailed(reason)), (state) => state.count)

// ---------------------------------------------------------------------------------------------
// Faults

/** The memory store with its service changed by `change` (which may keep state of its own). */
export const storeWith = (change: (store: FileStore["Type"]) => Effect.Effect<FileStore["Type"]>): Layer.Layer<FileStore | MemoryFiles> =>
  Layer.effect(FileStore, Effect.flatMap(FileStore, change)).pipe(Layer.provideMerge(MemoryFileStore.layerMemory))

/** The memory store with each partial file it opens changed by `change`. */
export const partialsWith = (change: (partial: PartialFile, uploadId: string) => PartialFile) =>
  storeWith((store) =>
    Effect.succeed({ ...store, begin: (uploadId: string) => Effect.map(store.begin(uploadId), (partial) => change(partial, uploadId)) })
  )

/** The memory store where every append (reason Write) or every commit (reason Commit) fails with `cause`. */
export const storeFailing = (where: "append" | "commit", cause: unknown) =>
  partialsWith((partial) =>
    where === "append"
      ? { ...partial, append: () => Effect.fail(new FileStoreError({ reason: "Write", cause })) }
      : { ...partial, commit: () => Effect.fail(new FileStoreError({ reason: "Commit", cause })) }
  )
