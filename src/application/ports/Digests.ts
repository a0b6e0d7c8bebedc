/**
 * The Digests port: the running SHA-256 of an upload's bytes, which the
 * client may check (`sha256` in `file_meta`) and is told (`file_received`;
 * with INTEGRITY=requested, only an upload that declared one is hashed). Hashing is the heaviest work an upload does on the CPU,
 * so where it runs is an adapter's choice: on the calling thread (the
 * default here, node:crypto), or on worker threads (adapters/digest), which
 * leaves the event loop to the transport.
 */
import { Context, Effect } from "effect"
import { createHash } from "node:crypto"

/** One upload's digest in progress. */
export interface RunningDigest {
  /**
   * Adds `bytes` after every byte added so far. It reads (or copies) them
   * before it returns, so the caller may free them afterwards. Synchronous:
   * it runs for every chunk, inside the store's `append` (see FileStore).
   */
  readonly update: (bytes: Uint8Array) => void
  /**
   * Done once the bytes added but not hashed yet are few enough: a digest
   * computed elsewhere holds copies of them, so an upload waits on this after
   * each chunk, and memory stays bounded whatever the client sends. Always
   * done at once for a digest computed on the calling thread.
   */
  readonly caughtUp: Effect.Effect<void>
  /**
   * The lowercase hex SHA-256 of every byte added; undefined for `none`.
   * Ends the digest: it takes no more bytes. Dies only if the thread
   * computing it died, a bug, which leaves the upload resumable (its bytes
   * are in the store).
   */
  readonly hex: Effect.Effect<string | undefined>
  /** Ends the digest without a result (an upload suspended or discarded). Idempotent. */
  readonly abandon: Effect.Effect<void>
}

/** A digest on the calling thread. */
export const onThisThread = (): RunningDigest => {
  const hash = createHash("sha256")
  return {
    update: (bytes) => void hash.update(bytes),
    caughtUp: Effect.void,
    hex: Effect.sync(() => hash.digest("hex")),
    abandon: Effect.void
  }
}

/**
 * No digest: for an upload nobody asked to check, on a server set to hash
 * only those that are (INTEGRITY=requested). Its `hex` is undefined.
 */
export const none: RunningDigest = {
  update: () => undefined,
  caughtUp: Effect.void,
  hex: Effect.succeed(undefined),
  abandon: Effect.void
}

/**
 * Which uploads are hashed (INTEGRITY): `sha256`, every one (the default;
 * `file_received` always carries the digest); `requested`, only those whose
 * client gives a digest to check (file_meta's `sha256`, tus' `sha256`
 * metadata), for storage that checks integrity itself.
 */
export type Integrity = "sha256" | "requested"

/** Whether an upload expecting `expectedSha256` (if any) is hashed under `integrity`. */
export const hashes = (integrity: Integrity, expectedSha256: string | undefined): boolean =>
  integrity === "sha256" || expectedSha256 !== undefined

/**
 * Where SHA-256 digests run. A `Reference`: without a layer for it, every
 * digest runs on the calling thread.
 */
export class Digests extends Context.Reference<Digests>()("file-receiver/Digests", {
  defaultValue: (): {
    /** A new digest for an upload of `size` bytes (an adapter may place small ones differently). */
    readonly sha256: (size: number) => Effect.Effect<RunningDigest>
  } => ({ sha256: () => Effect.sync(onThisThread) })
}) {}
