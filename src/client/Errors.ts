/**
 * The typed errors an upload can end with. Every one extends UploadError and
 * has a `_tag`, so callers can tell them apart with `instanceof` or a switch.
 */

/** The base class of every error `upload` rejects with. */
export abstract class UploadError extends Error {
  abstract readonly _tag:
    | "ServerRefused"
    | "ConnectionFailed"
    | "UploadCancelled"
    | "ChecksumMismatch"
    | "InvalidSource"
    | "ConfirmedBytesLost"
    | "HandshakeRefused"
}

/**
 * The server answered with an `error` reply; `message` is the server's own text. Not retried.
 * `code` is the reply's machine-readable code (`rate_limited`, `checksum_mismatch`,
 * `storage_unavailable`, ...), undefined from a server that sends none.
 */
export class ServerRefusedError extends UploadError {
  readonly _tag = "ServerRefused" as const
  constructor(message: string, readonly code: string | undefined = undefined) {
    super(message)
  }
}

/** The connection could not be (re-)established, or dropped, more times than `retries` allows. */
export class ConnectionFailedError extends UploadError {
  readonly _tag = "ConnectionFailed" as const
  constructor(message: string, readonly closeCode: number | undefined) {
    super(message)
  }
}

/**
 * The caller aborted the upload. The server was asked to discard it, unless `keepOnAbort` was set:
 * then `kept` says whether the server holds it (`uploadId`, for a later `options.uploadId`).
 */
export class UploadCancelledError extends UploadError {
  readonly _tag = "UploadCancelled" as const
  readonly kept: boolean
  constructor(readonly uploadId: string | undefined = undefined) {
    super(uploadId === undefined ? "Upload cancelled" : "Upload interrupted; the server keeps it for a resume")
    this.kept = uploadId !== undefined
  }
}

/**
 * The server refused the WebSocket handshake for a reason no retry heals: 401 (a token is missing
 * or wrong), 403 (the Origin is not allowed), 404 (not the upload endpoint), or another 4xx. The
 * message says what to change. In browsers, which hide the status, it is inferred from
 * `/config.json` (Handshake.ts).
 */
export class HandshakeRefusedError extends UploadError {
  readonly _tag = "HandshakeRefused" as const
  constructor(readonly status: number, message: string) {
    super(message)
  }
}

/** The server stored bytes whose SHA-256 is not the one the client computed. */
export class ChecksumMismatchError extends UploadError {
  readonly _tag = "ChecksumMismatch" as const
  constructor(readonly expected: string, readonly actual: string) {
    super(`The stored file's sha256 ${actual} is not the expected ${expected}`)
  }
}

/** The file could not be read, or the source cannot do what was asked (e.g. rewind a stream). */
export class InvalidSourceError extends UploadError {
  readonly _tag = "InvalidSource" as const
}

/**
 * A resume found the server holding fewer bytes (`held`) than it had confirmed (`confirmed`): it
 * lost bytes it acknowledged (a crash), and the source is a stream that already let them go, so
 * they cannot be sent again. The server was asked to discard its partial copy when it kept one.
 */
export class ConfirmedBytesLostError extends UploadError {
  readonly _tag = "ConfirmedBytesLost" as const
  constructor(readonly confirmed: number, readonly held: number, discardRequested: boolean) {
    super(
      `The server lost ${confirmed - held} bytes it had confirmed (it now holds ${held} of the ${confirmed} it acknowledged) ` +
        `and a stream cannot be read again: upload the file again` +
        (discardRequested ? " (the server was asked to discard its partial copy)" : "")
    )
  }
}
