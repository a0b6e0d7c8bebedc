/**
 * What the parts of one session share: the connection it answers on, its
 * state, the uploads service (with the client's quota applied), the pacing
 * of its replies, and the annotations of its log lines.
 */
import { Effect } from "effect"
import type * as Pacing from "../limits/Pacing.js"
import type { Uploads } from "../uploads/Uploads.js"
import type { Connection } from "./Connection.js"
import type { SessionState } from "./SessionState.js"

/** Annotates a log line with the client's address and identity and `fields`. */
export type Annotate = (fields?: Record<string, unknown>) => <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

export interface SessionContext {
  readonly connection: Connection
  readonly state: SessionState
  readonly uploads: Uploads
  /** Replies that ask for the next chunk wait for an invitation first (see Pacing). */
  readonly invitations: Pacing.Invitations
  readonly log: Annotate
}

/** The annotations for `connection`'s log lines, set in one step (each step copies the fiber's FiberRefs). */
export const annotate = (connection: Connection): Annotate => {
  const client = {
    client: connection.clientAddress,
    ...(connection.identity === undefined ? {} : { identity: connection.identity })
  }
  return (fields = {}) => Effect.annotateLogs({ ...client, ...fields })
}
