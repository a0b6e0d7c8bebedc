/**
 * The typed errors an upload can end with. Every one extends UploadError and
 * has a `_tag`, so callers can tell them apart with `instanceof` or a switch.
 */

/** The base class of every error `upload` rejects with. */
export abstract class UploadError extends Error {
  abstract readonly _tag: "ServerRefused" | "ConnectionFailed" | "UploadCancelled" | "ChecksumMismatch" | "InvalidSource"
}

/** The server answered with an `error` reply; `message` is the server's own text. Not retried. */
export class ServerRefusedError extends UploadError {
  readonly _tag = "ServerRefused" as const
}

/** The connection could not be (re-)established, or dropped, more times than `retries` allows. */
export class ConnectionFailedError extends UploadError {
  readonly _tag = "ConnectionFailed" as const
  constructor(message: string, readonly closeCode: number | undefined) {
    super(message)
  }
}

/** The caller aborted the upload; the server was asked to discard it. */
export class UploadCancelledError extends UploadError {
  readonly _tag = "UploadCancelled" as const
  constructor() {
    super("Upload cancelled")
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
