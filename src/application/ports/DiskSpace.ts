/**
 * The DiskSpace port: how much room the store's disk has left, so that an
 * upload that would fill it is refused up front. Optional: a store that is
 * not a local filesystem provides none, and then space is not checked.
 */
import { Context, Data } from "effect"
import type { Effect } from "effect"

export class DiskSpaceError extends Data.TaggedError("DiskSpaceError")<{
  readonly reason: "Stat"
  readonly cause: unknown
}> {
  override get message(): string {
    return `Could not read the free disk space: ${String(this.cause)}`
  }
}

export class DiskSpace extends Context.Tag("file-receiver/DiskSpace")<DiskSpace, {
  /**
   * Bytes an unprivileged writer can still store (`statfs` bavail × bsize),
   * read afresh on each call. Fails when the figure cannot be read.
   */
  readonly available: Effect.Effect<number, DiskSpaceError>
}>() {}
