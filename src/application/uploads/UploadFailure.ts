/**
 * Why an upload could not be opened, written or finished, and what that
 * does to it. A refusal travels as data: its code decides, its message is
 * for the client (the texts are in domain/Refusals).
 */
import { Data } from "effect"
import type * as Refusal from "../../domain/Refusal.js"
import * as Refusals from "../../domain/Refusals.js"
import { type FileStoreError, outOfSpace } from "../ports/FileStore.js"
import type { UploadRegistryError } from "../ports/UploadRegistry.js"

export class UploadRefused extends Data.TaggedError("UploadRefused")<{ readonly refusal: Refusal.Refusal }> {
  override get message(): string {
    return this.refusal.message
  }
}

/** An UploadRefused for `refusal` (one of Refusals'). */
export const refuse = (refusal: Refusal.Refusal): UploadRefused => new UploadRefused({ refusal })

/** An UploadRefused for `code`, with `message` (prefer {@link refuse} with a text from Refusals). */
export const refused = (code: Refusal.RefusalCode, message: string): UploadRefused => refuse({ code, message })

export type UploadFailure = UploadRefused | FileStoreError | UploadRegistryError

/**
 * What a failure does to the upload it hit: a refusal, a full disk and a
 * failed commit end it ("discarded"), except a takeover, which leaves it to
 * the other connection ("kept"); any other failure of the store or the
 * registry (it could not be written or reached) leaves it resumable with
 * what the store durably holds ("suspended").
 */
export const outcomeOf = (error: UploadFailure): "discarded" | "suspended" | "kept" =>
  error._tag === "UploadRefused"
    ? error.refusal.code === "taken_over" ? "kept" : "discarded"
    : error._tag === "FileStoreError" && (error.reason === "Commit" || outOfSpace(error))
    ? "discarded"
    : "suspended"

/** What the client is told about a storage failure that is not a refusal. */
export const storageRefusal = (error: FileStoreError | UploadRegistryError, starting: boolean): Refusal.Refusal =>
  outcomeOf(error) === "suspended"
    ? starting ? Refusals.storageUnavailableAtStart() : Refusals.storageUnavailable()
    : outOfSpace(error) ? Refusals.diskFull() : Refusals.storageFailed()
