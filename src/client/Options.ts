/** What `upload` accepts (its options) and resolves with. */
import type { UploadProgress } from "./Progress.js"
import type { Hasher } from "./Sha256.js"
import type { WebSocketConstructor } from "./Socket.js"

export interface UploadOptions {
  /** The endpoint, e.g. `ws://127.0.0.1:8000/ws/file-transfer/` (`http(s)://` is taken as `ws(s)://`). */
  readonly url: string
  /** Sent as the `token` query parameter, for servers that want one at the handshake. */
  readonly token?: string | undefined
  /** Defaults to `globalThis.WebSocket`; pass `ws`'s WebSocket in Node 20. */
  readonly WebSocket?: WebSocketConstructor | undefined
  /**
   * Bytes per chunk, never more than the server's `max_chunk_bytes`. Default: that maximum (at most
   * 16 MiB), so each message of the rate limit carries the most bytes; 256 KiB from a server that
   * announces none.
   */
  readonly chunkBytes?: number | undefined
  /**
   * Chunks sent ahead of the acknowledgements (default 8, fewer when chunks are large: at most 32 MiB
   * in flight, and at least 2; 1 against servers that do not pipeline).
   */
  readonly window?: number | undefined
  /**
   * `true`: hash the file first and send its sha256 in `file_meta`, so the server refuses a
   * corrupted upload (a stream cannot be read twice: it is hashed while sending and checked
   * against `file_received`'s `sha256` instead, when the server sends one: the original
   * service and a server set to INTEGRITY=requested send none, and the result's `sha256` is
   * then undefined). A hex string: send that digest.
   */
  readonly sha256?: boolean | string | undefined
  /** The hash to use (default: the plain-TypeScript SHA-256; Node passes node:crypto's). */
  readonly createSha256?: (() => Hasher) | undefined
  /** Aborting cancels the upload; the server is asked to discard it (unless `keepOnAbort`). */
  readonly signal?: AbortSignal | undefined
  /**
   * Aborting leaves the upload on the server for a later resume (`uploadId`) instead of asking it to
   * discard it: the connection is closed and the error's `uploadId` says what was kept. Default false.
   */
  readonly keepOnAbort?: boolean | undefined
  /** Called as bytes are hashed and acknowledged. */
  readonly onProgress?: ((progress: UploadProgress) => void) | undefined
  /** Called before each reconnection attempt. */
  readonly onReconnect?: ((info: ReconnectInfo) => void) | undefined
  /**
   * Called when the client holds a message back for a second or more to stay under the rate limit
   * the server announced (`reason`: `waiting 23 s for the rate limit`).
   */
  readonly onWait?: ((info: { readonly delayMs: number; readonly reason: string }) => void) | undefined
  /**
   * Milliseconds without any reply while one is awaited (default 60000) before the connection
   * counts as dropped and is replaced: a link that dies silently never reports a close.
   */
  readonly replyTimeout?: number | undefined
  /** Reconnections in a row without progress before giving up (default 6). */
  readonly retries?: number | undefined
  /** First backoff delay in ms (default 250), doubled per failed attempt up to `maxDelay` (default 8000). */
  readonly minDelay?: number | undefined
  readonly maxDelay?: number | undefined
  /**
   * Milliseconds (default 600000: 10 minutes) an upload is resumed again while the server answers
   * `storage_unavailable` (its disk or object store failed; it kept the upload). Each wait is the
   * server's `retry_after` when it sends one, the backoff otherwise. Counted from the first such
   * refusal since the last progress; once the next try would come later than this, the upload
   * fails with ServerRefusedError (code `storage_unavailable`). Not counted against `retries`.
   */
  readonly storagePatience?: number | undefined
  /**
   * Milliseconds (default 600000: 10 minutes) refusals by the server's limits (`rate_limited`,
   * `too_many_connections`) are waited out without progress: each wait is the server's `retry_after`
   * and a little more (the backoff when it sends none). When the next try would come later than
   * this, the upload fails with ServerRefusedError (the server's code), saying when to try again.
   * Not counted against `retries`.
   */
  readonly limitPatience?: number | undefined
  /**
   * Resume this upload (an `upload_id` from an earlier run, a page before a reload): the server
   * continues from what it holds, or answers a completed upload's `file_received`. An id the
   * server does not know (any more) starts a new upload.
   */
  readonly uploadId?: string | undefined
  /** Called with the upload's id whenever the server hands it out (each `meta_received`), to keep for a later `uploadId`. */
  readonly onUploadId?: ((uploadId: string) => void) | undefined
}

export interface ReconnectInfo {
  /** 1 for the first retry after a drop, counting attempts without progress. */
  readonly attempt: number
  readonly delayMs: number
  /** Why the last connection ended, for people (a server's refusal in its own words). */
  readonly reason: string
  /**
   * What is waited for, to decide on: `connection` (it dropped or could not be opened), `busy` (the
   * server still holds the upload for the connection that dropped), `storage_unavailable` (the
   * server kept the upload but its store is failing), `rate_limited` (the server's rate limit refused
   * a message: `delayMs` is its `retry_after`), `too_many_connections` (its connection limit).
   */
  readonly cause: "connection" | "busy" | "storage_unavailable" | "rate_limited" | "too_many_connections"
}

export interface UploadResult {
  /** The name the server stored the file under (it may differ from the one sent). */
  readonly storedName: string
  readonly extension: string
  /** The sha256 the server computed, when it sent one. */
  readonly sha256: string | undefined
  /** The server's `file_received` message. */
  readonly message: string
  readonly size: number
  /** How many times the connection was re-established. */
  readonly reconnects: number
  /** Bytes the server already held when this call began (resuming `uploadId` from an earlier run); 0 for a new upload. */
  readonly resumedFrom: number
}
