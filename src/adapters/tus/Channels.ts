/**
 * The HTTP transport's connections. Over HTTP an upload arrives as a series
 * of requests, not on one connection, so each upload written through this
 * process gets a channel: a `Connection` served by the Connections service
 * (admission, the session, the same limits, events and metrics as a
 * WebSocket), which the requests for that upload feed one at a time. A
 * request turns into the protocol's frames (a `file_meta` text frame to create
 * or resume, binary frames for its body) and the session's replies into
 * `Answer`s.
 *
 * - **One frame, all its answers.** `exchange` hands the session a frame and
 *   waits until the session asks for the next one (or ends): everything it
 *   sent in between is that frame's answer (a 0-byte file gets meta_received
 *   and file_received for one file_meta).
 * - **Lingering.** A channel outlives its request by `lingerMillis`, so the
 *   next request of a chunked upload (or the PATCH after a HEAD) finds it;
 *   after that, with no request, it ends as if the peer had gone, and its
 *   upload is suspended and its writer claim released for a resume by any
 *   instance (behind a load balancer the next request may go elsewhere). The
 *   session's idle and stall timeouts never fire on a channel: a request
 *   enforces the stall timeout on its own body.
 * - **Kept in the process, found by id.** While a channel lives, the next
 *   request for its upload goes straight to it: the digest and content check
 *   go on from where they were, with no replay of the bytes held.
 */
import { Duration, Effect, Option } from "effect"
import type { Connection, Frame, Next, Received } from "../../application/session/Connection.js"
import { gone } from "../../application/session/Connection.js"
import type { Connections } from "../../application/session/Connections.js"
import type * as Refusal from "../../domain/Refusal.js"
import * as Refusals from "../../domain/Refusals.js"

/** Runs an effect in the background, on the transport's fibers (so shutdown interrupts it). */
export type Run = (effect: Effect.Effect<void>) => unknown

/** What the session answered, as data (decoded from its reply's `type`, never its text). */
export type Answer =
  | { readonly _tag: "MetaReceived"; readonly uploadId: string; readonly offset: number }
  | { readonly _tag: "ChunkReceived"; readonly received: number }
  | { readonly _tag: "FileReceived"; readonly storedName: string; readonly extension: string; readonly sha256: string | undefined }
  | { readonly _tag: "Cancelled" }
  | { readonly _tag: "Refused"; readonly refusal: Refusal.Refusal }

/** The answer of a reply the session sent. */
export const answerOf = (reply: string): Answer => {
  const message = JSON.parse(reply) as Record<string, unknown>
  switch (message.type) {
    case "meta_received":
      return { _tag: "MetaReceived", uploadId: String(message.upload_id), offset: Number(message.offset ?? 0) }
    case "chunk_received":
      return { _tag: "ChunkReceived", received: Number(message.received) }
    case "file_received":
      return {
        _tag: "FileReceived",
        storedName: String(message.stored_name),
        extension: String(message.extension),
        sha256: typeof message.sha256 === "string" ? message.sha256 : undefined
      }
    case "upload_cancelled":
      return { _tag: "Cancelled" }
    default:
      return {
        _tag: "Refused",
        refusal: {
          code: (message.code ?? "internal_error") as Refusal.RefusalCode,
          message: String(message.message),
          ...(typeof message.retry_after === "number" ? { retryAfter: message.retry_after } : {})
        }
      }
  }
}

/** What a frame got: every answer the session sent for it, and whether the channel has ended since. */
export interface Exchanged {
  readonly answers: ReadonlyArray<Answer>
  readonly ended: boolean
}

/** The peer of a channel: who opened it. */
export interface Peer {
  readonly clientAddress: string
  readonly identity: string | undefined
}

export interface Channel {
  readonly peer: Peer
  /** Hands the session `frame` and collects its answers. */
  readonly exchange: (frame: Frame) => Effect.Effect<Exchanged>
  /** Runs `request` holding the channel (one request at a time); None when another still holds it after `waitMillis`. */
  readonly holding: <A, E, R>(request: Effect.Effect<A, E, R>, waitMillis: number) => Effect.Effect<Option.Option<A>, E, R>
  /** Ends the channel: its session ends as if the peer had gone (an open upload is suspended). */
  readonly end: Effect.Effect<void>
  readonly ended: Effect.Effect<boolean>
}

/**
 * Opens a channel for `peer`, served by `connections` on `run` (the
 * transport's fiber runtime, so shutdown ends it), lingering `lingerMillis`
 * after each request. `onEnd` runs once it ended.
 *
 * Every frame of a request body passes here twice (to the session, and its
 * answers back), so the hand-over is plain state and one callback each way
 * rather than queues, deferreds and a race per frame (those cost about a
 * millisecond per frame: a fifth of the time of a large PATCH). Only this
 * file's callbacks touch that state, each in one synchronous step.
 */
export const open = (
  connections: Connections["Type"],
  run: Run,
  peer: Peer,
  lingerMillis: number,
  onEnd: () => void
): Effect.Effect<Channel> =>
  Effect.gen(function*() {
    const lock = yield* Effect.makeSemaphore(1)
    const goneValue = gone(undefined, undefined)
    let ended = false
    /** Gone has been handed to the session: no request may use the channel any more. */
    let closing = false
    let held = false
    /** What the session sent since the last exchange began. */
    let answers: Array<Answer> = []
    /** What the session has not taken yet (a frame, or Gone). */
    let queued: Received | undefined
    /** The session waiting for what comes next. */
    let sessionWaiting: ((received: Received) => void) | undefined
    /** Whether the session is handling a frame (it is done with it when it asks for the next). */
    let handling = false
    /** The request waiting for its frame's answers. */
    let requestWaiting: ((exchanged: Exchanged) => void) | undefined
    let lingerTimer: ReturnType<typeof setTimeout> | undefined

    const clearLinger = () => {
      if (lingerTimer !== undefined) clearTimeout(lingerTimer)
      lingerTimer = undefined
    }
    const deliver = (received: Received) => {
      if (received._tag === "Gone") closing = true
      const waiting = sessionWaiting
      if (waiting === undefined) {
        queued = received
        return
      }
      sessionWaiting = undefined
      clearLinger()
      waiting(received)
    }
    // A request that holds the channel times its own body out; without one, the channel ends after lingering.
    const armLinger = () => {
      if (held || lingerTimer !== undefined || sessionWaiting === undefined) return
      lingerTimer = setTimeout(() => {
        lingerTimer = undefined
        if (!held) deliver(goneValue)
      }, lingerMillis)
      lingerTimer.unref()
    }
    const answerRequest = () => {
      const waiting = requestWaiting
      if (waiting === undefined) return
      requestWaiting = undefined
      const sent = answers
      answers = []
      waiting({ answers: sent, ended })
    }

    const connection: Connection = {
      clientAddress: peer.clientAddress,
      identity: peer.identity,
      transport: "http",
      send: (reply) => Effect.sync(() => void answers.push(answerOf(reply))),
      // Ends the session's loop: it returns once `receive` says "closed"; nothing more to do here.
      close: () => Effect.void
    }

    const next: Next = () =>
      Effect.async<Received>((resume) => {
        // The session asks for what comes next: the frame it had is done, and its answers go to the request.
        if (handling) {
          handling = false
          answerRequest()
        }
        const take = (received: Received) => {
          handling = received._tag === "Frame"
          resume(Effect.succeed(received))
        }
        if (queued !== undefined) {
          const received = queued
          queued = undefined
          return take(received)
        }
        sessionWaiting = take
        armLinger()
        return Effect.sync(() => {
          sessionWaiting = undefined
          clearLinger()
        })
      })

    run(
      connections.serve({ connection, next }).pipe(
        Effect.catchTags({
          ConnectionRefused: ({ refusal }) => Effect.sync(() => void answers.push({ _tag: "Refused", refusal })),
          ConnectionBroken: () => Effect.sync(() => void answers.push({ _tag: "Refused", refusal: Refusals.internalError() }))
        }),
        Effect.ensuring(Effect.sync(() => {
          ended = true
          clearLinger()
          answerRequest()
          onEnd()
        }))
      )
    )

    const exchange = (frame: Frame): Effect.Effect<Exchanged> =>
      Effect.async<Exchanged>((resume) => {
        // A channel that ended before its first frame says why (admission refused it); answers sent while no
        // request waited (before a timeout) belong to no request.
        if (ended) return resume(Effect.succeed({ answers, ended: true }))
        answers = []
        requestWaiting = (exchanged) => resume(Effect.succeed(exchanged))
        deliver(frame)
      })

    const setHeld = (value: boolean) =>
      Effect.sync(() => {
        held = value
        if (value) clearLinger()
        else armLinger()
      })

    const holding = <A, E, R>(request: Effect.Effect<A, E, R>, waitMillis: number) =>
      Effect.flatMap(Effect.timeout(lock.take(1), Duration.millis(waitMillis)).pipe(Effect.option), (took) =>
        Option.isNone(took)
          ? Effect.succeedNone
          // A channel that is ending is taken by nobody (the caller answers busy; the retry finds the upload anew).
          : Effect.suspend(() => closing || ended ? Effect.as(lock.release(1), Option.none<A>()) :
            Effect.zipRight(setHeld(true), Effect.map(request, Option.some)).pipe(
              Effect.ensuring(Effect.zipRight(setHeld(false), lock.release(1)))
            )))

    return {
      peer,
      exchange,
      holding,
      end: Effect.sync(() => deliver(goneValue)),
      ended: Effect.sync(() => ended || closing)
    } satisfies Channel
  })
