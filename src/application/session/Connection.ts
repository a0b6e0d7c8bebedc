/**
 * What the transport and a session share: the connection a session answers
 * on, the frames it receives, and what it says back about the connection.
 */
import type { Effect } from "effect"
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

