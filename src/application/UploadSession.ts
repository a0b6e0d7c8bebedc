/**
 * UploadSession: drives one client connection. Each inbound frame is counted
 * against the client's rate limit, decoded, run through the pure protocol
 * transition, and the resulting step is carried out against the FileStore;
 * replies go back through the connection. Frames are handled one at a time,
 * in order, by the connection's single fiber.
 */
import { Context, Duration, Effect, Either, Layer, Option, Ref } from "effect"
import type { Scope } from "effect"
import type { SafeFileName } from "../domain/FileName.js"
import * as Messages from "../domain/Messages.js"
import * as Upload from "../domain/Upload.js"
import { FileStore, type FileStoreError, type PartialFile } from "./FileStore.js"
import { RateLimiter, type RateLimiterError } from "./RateLimiter.js"

/** WebSocket close code for a policy violation (the rate limit). */
export const CLOSE_POLICY_VIOLATION = 1008

/** What the transport gives a session: the peer, and a way to answer it. */
export interface Connection {
  /** The client's address, used as the rate-limit key. */
  readonly clientAddress: string
  readonly send: (reply: Messages.Reply) => Effect.Effect<void>
  readonly close: (code: number, reason: string) => Effect.Effect<void>
}

/** An inbound WebSocket frame: a JSON text message, or (during an upload) a chunk of raw bytes. */
export interface Frame {
  readonly bytes: Buffer
  readonly isBinary: boolean
}

/** A text frame, for tests and in-process clients. */
export const textFrame = (text: string): Frame => ({ bytes: Buffer.from(text, "utf8"), isBinary: false })

/** A binary frame, for tests and in-process clients. */
export const binaryFrame = (bytes: Uint8Array): Frame => ({ bytes: Buffer.from(bytes), isBinary: true })

/** Whether the connection should go on reading after a frame. */
export type Verdict = "continue" | "closed"

export interface SessionSettings {
  readonly upload: Upload.UploadPolicy
  readonly rateLimit: { readonly limit: number; readonly window: Duration.Duration }
}

export const STORAGE_FAILED = "The server could not store the file; the upload was discarded, please try again"

interface Session {
  readonly state: Upload.UploadState
  readonly partial: Option.Option<PartialFile>
}

export class UploadSession extends Context.Tag("file-receiver/UploadSession")<UploadSession, {
  /**
   * Opens a session for `connection`. The returned `receive` handles one
   * frame and says whether the connection is still open. Closing the scope
   * discards any unfinished upload.
   */
  readonly open: (connection: Connection) => Effect.Effect<
    { readonly receive: (frame: Frame) => Effect.Effect<Verdict> },
    never,
    Scope.Scope
  >
}>() {}

export const make = (settings: SessionSettings) =>
  Effect.gen(function*() {
    const store = yield* FileStore
    const metaReceived = Messages.metaReceived({ maxChunkBytes: settings.upload.maxChunkBytes })
    const limiter = yield* RateLimiter
    // Log a limiter outage once when it starts and once when it ends, not per message.
    const limiterDown = yield* Ref.make(false)
    const limiterFailed = (error: RateLimiterError) =>
      Effect.whenEffect(
        Effect.logError("rate limiter unavailable; allowing messages until it is back").pipe(
          Effect.annotateLogs({ error: error.message })
        ),
        Ref.getAndSet(limiterDown, true).pipe(Effect.map((wasDown) => !wasDown))
      )
    const limiterRecovered = Effect.whenEffect(
      Effect.logInfo("rate limiter available again"),
      Ref.getAndSet(limiterDown, false)
    )

    const open = (connection: Connection) =>
      Effect.gen(function*() {
        const session = yield* Ref.make<Session>({ state: Upload.initial, partial: Option.none() })
        const log = Effect.annotateLogs({ client: connection.clientAddress })

        const discardPartial = Effect.flatMap(
          Ref.modify(session, (s) => [s.partial, { ...s, partial: Option.none() }]),
          (partial) => Option.match(partial, { onNone: () => Effect.void, onSome: (p) => p.discard })
        )
        yield* Effect.addFinalizer(() => discardPartial)

        const storageFailed = (error: FileStoreError) =>
          Effect.logError("upload discarded: storage failed").pipe(
            Effect.annotateLogs({ error: error.message }),
            log,
            Effect.zipRight(discardPartial),
            Effect.zipRight(Ref.set(session, { state: Upload.initial, partial: Option.none() })),
            Effect.zipRight(connection.send(Messages.error(STORAGE_FAILED)))
          )

        const complete = (partial: PartialFile, file: SafeFileName) =>
          Effect.gen(function*() {
            yield* Ref.update(session, (s) => ({ ...s, partial: Option.none() }))
            const storedName = yield* partial.commit(file)
            yield* Effect.logInfo("upload completed").pipe(Effect.annotateLogs({ storedName }), log)
            yield* connection.send(Messages.fileReceived(storedName, file.extension))
          })

        const run = (step: Upload.Step): Effect.Effect<void> =>
          Upload.Step.$match(step, {
            Refuse: ({ discard, message, next }) =>
              Effect.zipRight(
                discard ? discardPartial : Effect.void,
                Effect.zipRight(Ref.update(session, (s) => ({ ...s, state: next })), connection.send(Messages.error(message)))
              ),
            Start: ({ completed, file, next, replaces }) =>
              Effect.gen(function*() {
                if (replaces) {
                  yield* discardPartial
                  yield* Effect.logInfo("unfinished upload replaced by a new file_meta").pipe(log)
                }
                const partial = yield* store.begin
                yield* Ref.set(session, { state: next, partial: Option.some(partial) })
                yield* Effect.logDebug("upload started").pipe(Effect.annotateLogs({ file: file.name }), log)
                yield* connection.send(metaReceived)
                if (completed) yield* complete(partial, file)
              }).pipe(Effect.catchTag("FileStoreError", storageFailed)),
            Append: ({ bytes, completed, next }) =>
              Effect.gen(function*() {
                const { partial } = yield* Ref.get(session)
                if (Option.isNone(partial)) return yield* Effect.dieMessage("Append without an open partial file")
                yield* partial.value.append(bytes)
                yield* Ref.update(session, (s) => ({ ...s, state: next }))
                if (completed && next._tag === "Completed") yield* complete(partial.value, next.file)
                else if (next._tag === "Receiving") yield* connection.send(Messages.chunkReceived(next.received))
              }).pipe(Effect.catchTag("FileStoreError", storageFailed))
          })

        const withinRateLimit = limiter.consume({ key: connection.clientAddress, ...settings.rateLimit }).pipe(
          Effect.tap(() => limiterRecovered),
          Effect.map((verdict) => verdict.allowed),
          // Fail open: an unreachable limiter must not stop uploads.
          Effect.catchTag("RateLimiterError", (error) => Effect.as(limiterFailed(error), true))
        )

        const receive = (frame: Frame): Effect.Effect<Verdict> =>
          Effect.gen(function*() {
            if (!(yield* withinRateLimit)) {
              yield* Effect.logWarning("rate limit exceeded; closing").pipe(log)
              yield* connection.send(Messages.error(Messages.RATE_LIMIT_EXCEEDED))
              yield* connection.close(CLOSE_POLICY_VIOLATION, Messages.RATE_LIMIT_EXCEEDED)
              return "closed" as const
            }
            const decoded: Either.Either<Messages.ClientMessage | Upload.ChunkBytes, string> = frame.isBinary
              ? Either.right({ type: "chunk_bytes", bytes: frame.bytes })
              : Messages.decodeFrame(frame.bytes)
            if (Either.isLeft(decoded)) {
              yield* connection.send(Messages.error(decoded.left))
              return "continue" as const
            }
            const { state } = yield* Ref.get(session)
            // A step runs to the end even on shutdown, so no opened file escapes the session's bookkeeping.
            yield* Effect.uninterruptible(run(Upload.transition(state, decoded.right, settings.upload)))
            return "continue" as const
          })

        return { receive }
      })

    return UploadSession.of({ open })
  })

export const layer = (settings: SessionSettings): Layer.Layer<UploadSession, never, FileStore | RateLimiter> =>
  Layer.effect(UploadSession, make(settings))
