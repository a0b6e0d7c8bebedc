/**
 * What the parts of one session share: the connection it answers on, its
 * state, the uploads service (with the client's quota applied), the pacing
 * of its replies, and the annotations of its log lines.
 */
import type { Effect, LogLevel } from "effect"
import * as LogLines from "../infrastructure/LogLines.js"
import type * as Pacing from "../limits/Pacing.js"
import type { Uploads } from "../uploads/Uploads.js"
import type { Connection } from "./Connection.js"
import type { SessionState } from "./SessionState.js"

/** Logs a line annotated with the client's address and identity and `fields`. */
export type SessionLog = (level: LogLevel.LogLevel, message: string, fields?: LogLines.Fields) => Effect.Effect<void>

export interface SessionContext {
  readonly connection: Connection
  readonly state: SessionState
  readonly uploads: Uploads
  /** Replies that ask for the next chunk wait for an invitation first (see Pacing). */
  readonly invitations: Pacing.Invitations
  readonly log: SessionLog
}

/** `connection`'s log lines, made by LogLines (Effect.annotateLogs would copy the fiber's FiberRefs twice a line). */
export const sessionLog = (connection: Connection): SessionLog => {
  const client = {
    client: connection.clientAddress,
    ...(connection.identity === undefined ? {} : { identity: connection.identity })
  }
  return (level, message, fields = {}) => LogLines.log(level, message, { ...client, ...fields })
}
