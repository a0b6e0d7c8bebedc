/**
 * The UploadRegistry port: what the server remembers of each upload (to
 * check a resume against, and to answer a resume of a completed upload with
 * the same file_received), and who may write it. Shared by all instances
 * when it is backed by Redis.
 */
import { Context, Data, Effect, Option, Schema } from "effect"

export class UploadRegistryError extends Data.TaggedError("UploadRegistryError")<{
  readonly reason: "Unavailable" | "Corrupt"
  readonly cause: unknown
}> {
  override get message(): string {
    return `Upload registry ${this.reason === "Corrupt" ? "holds an unreadable record" : "unavailable"}: ${String(this.cause)}`
  }
}

/** What a completed upload was stored as: a resume of it is answered with this. */
export interface CompletedUpload {
  readonly storedName: string
  readonly extension: string
  /** Absent when the server did not hash it (INTEGRITY=requested, and the client asked for no check). */
  readonly sha256?: string | undefined
  /** Milliseconds since the epoch. */
  readonly completedAt: number
}

export interface UploadRecord {
  readonly uploadId: string
  /** The file_name exactly as the client sent it (a resume must repeat it). */
  readonly fileName: string
  readonly size: number
  readonly expectedSha256: string | undefined
  /** Milliseconds since the epoch. */
  readonly createdAt: number
  /** Who started the upload (the token's label) when authentication is on: no one else may resume it. */
  readonly identity?: string | undefined
  /** The media type the client gave (file_meta's file_type, tus' filetype), for events. */
  readonly fileType?: string | undefined
  /** Set once the upload is published. */
  readonly completed?: CompletedUpload | undefined
}

export class UploadRegistry extends Context.Tag("file-receiver/UploadRegistry")<UploadRegistry, {
  /** Records a new upload. */
  readonly create: (record: UploadRecord) => Effect.Effect<void, UploadRegistryError>
  /** The record of `uploadId`, if it is known and not expired. */
  readonly get: (uploadId: string) => Effect.Effect<Option.Option<UploadRecord>, UploadRegistryError>
  /**
   * Records that the upload is published: stores `record` (with its
   * `completed`) in place of what was recorded for `record.uploadId`. The
   * record is kept for the registry's expiry after `completed.completedAt`
   * (Redis: the key's time to live; the other registries: the expiry sweep,
   * through `list`), so a resume of the upload is answered the same way.
   */
  readonly complete: (record: UploadRecord & { readonly completed: CompletedUpload }) => Effect.Effect<void, UploadRegistryError>
  /**
   * The records that do not expire by themselves (the Redis registry's do,
   * so it lists none), completed ones included: the expiry sweep removes
   * those left without a partial file, and completed ones once they are old.
   */
  readonly list: Effect.Effect<ReadonlyArray<UploadRecord>, UploadRegistryError>
  /** Forgets `uploadId` (discarded, cancelled or expired). Idempotent. */
  readonly remove: (uploadId: string) => Effect.Effect<void, UploadRegistryError>
  /**
   * Claims the exclusive right to write `uploadId`. Succeeds with the
   * release action, or None while another writer (on any instance) holds
   * it. A claim whose holder dies without releasing it lapses by itself.
   */
  readonly claim: (uploadId: string) => Effect.Effect<Option.Option<Effect.Effect<void>>, UploadRegistryError>
  /**
   * Whether this process still holds the claim on `uploadId`. A claim can
   * lapse while held (its holder could not renew it in time, and another
   * instance took it over); the holder checks before it publishes.
   */
  readonly holds: (uploadId: string) => Effect.Effect<boolean, UploadRegistryError>
}>() {}

/** A record as registries store it (JSON); checked when read back, since stored text can be edited or cut short. */
const StoredRecord = Schema.parseJson(Schema.Struct({
  uploadId: Schema.String,
  fileName: Schema.String,
  size: Schema.Number,
  expectedSha256: Schema.optionalWith(Schema.String, { as: "Option" }),
  createdAt: Schema.Number,
  identity: Schema.optional(Schema.String),
  fileType: Schema.optional(Schema.String),
  completed: Schema.optional(Schema.Struct({
    storedName: Schema.String,
    extension: Schema.String,
    sha256: Schema.optional(Schema.String),
    completedAt: Schema.Number
  }))
}))

/** The record stored as `text` (by `JSON.stringify` of an UploadRecord); fails with Corrupt when it is not one. */
export const decodeRecord = (text: string): Effect.Effect<UploadRecord, UploadRegistryError> =>
  Schema.decode(StoredRecord)(text).pipe(
    Effect.map(({ completed, expectedSha256, fileType, identity, ...stored }): UploadRecord => ({
      ...stored,
      expectedSha256: Option.getOrUndefined(expectedSha256),
      ...(identity === undefined ? {} : { identity }),
      ...(fileType === undefined ? {} : { fileType }),
      ...(completed === undefined ? {} : { completed })
    })),
    Effect.mapError((cause) => new UploadRegistryError({ reason: "Corrupt", cause }))
  )
