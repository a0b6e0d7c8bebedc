/**
 * What a transport, the connection service and a session share: the
 * connection a session answers on, and what the transport received from
 * the peer (a frame, the peer gone, or nothing in time), as one tagged union.
 */
import type { Data, Duration, Effect, Option } from "effect"
import type * as Messages from "../../domain/Messages.js"
import { CLOSE_CODES } from "../../domain/Refusals.js"

/** WebSocket close code for a policy violation (the rate limit); the codes live in Refusals. */
export const CLOSE_POLICY_VIOLATION = CLOSE_CODES.policyViolation

/** What the transport gives a session: the peer, and a way to answer it. */
export interface Connection {
  /** The client's address, used as the rate-limit key. */
  readonly clientAddress: string
  /** Who the client authenticated as (the token's label, never the token), when authentication is on. */
  readonly identity?: string | undefined
  /** Which transport it came over (`websocket`, `http`): the `transport` label of every metric the connection updates. */
  readonly transport?: string
  readonly send: (reply: Messages.Reply) => Effect.Effect<void>
  readonly close: (code: number, reason: string) => Effect.Effect<void>
}

/** What a transport received from the peer. */
export type Received = Data.TaggedEnum<{
  /** An inbound frame: a JSON text message, or (during an upload) a chunk of raw bytes. */
  Frame: {
    readonly bytes: Buffer
    readonly isBinary: boolean
    /**
     * Part of a message already counted against the rate limit: only its bytes count. A transport whose
     * message arrives in pieces (an HTTP request's body) marks every piece after the first.
     */
    readonly continues?: boolean
  }
  /** The peer is gone: the transport's close code (WebSocket) and the protocol error that ended it, if any (for debug logs). */
  Gone: { readonly code: number | undefined; readonly error: string | undefined }
  /** Nothing came within the session's patience. */
  Quiet: {}
}>

/** An inbound frame. */
export type Frame = Data.TaggedEnum.Value<Received, "Frame">

// Plain objects rather than Data.taggedEnum's constructors: a frame is built for every chunk, and those
// constructors cost a proxy lookup, a closure and a copy each.
/** A frame as a transport received it. */
export const frame = (bytes: Buffer, isBinary: boolean): Frame => ({ _tag: "Frame", bytes, isBinary })

/** A piece of a message whose first frame was counted already (see `continues`). */
export const continuation = (bytes: Buffer): Frame => ({ _tag: "Frame", bytes, isBinary: true, continues: true })

/** The peer is gone. */
export const gone = (code: number | undefined, error: string | undefined): Received => ({ _tag: "Gone", code, error })

/** Nothing came in time (one value for every wait). */
export const quiet: Received = { _tag: "Quiet" }

/**
 * Waits for what the peer sends next, at most `within` (for ever when None):
 * a Frame, Gone once the peer has gone, or Quiet when nothing came in time.
 */
export type Next = (within: Option.Option<Duration.Duration>) => Effect.Effect<Received>

/** A text frame, for tests and in-process clients. */
export const textFrame = (text: string): Frame => ({ _tag: "Frame", bytes: Buffer.from(text, "utf8"), isBinary: false })

/** A binary frame, for tests and in-process clients. */
export const binaryFrame = (bytes: Uint8Array): Frame => ({ _tag: "Frame", bytes: Buffer.from(bytes), isBinary: true })

/** Whether the connection should go on reading after a frame. */
export type Verdict = "continue" | "closed"
