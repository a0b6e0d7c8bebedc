/**
 * Readiness: the dependencies that must answer before this instance should
 * get traffic (storage writable; Redis, when configured). Each adapter
 * contributes a named probe; GET /readyz runs them all.
 */
import { Context, Duration, Effect } from "effect"

export interface Probe {
  readonly name: string
  /** Succeeds when the dependency works; fails with what is wrong. */
  readonly check: Effect.Effect<void, string>
}

/** The probe of the storage in use (save directory, bucket, ...), provided by the FileStore adapter's layer. */
export class StorageProbe extends Context.Tag("file-receiver/StorageProbe")<StorageProbe, Probe>() {}

export class Readiness extends Context.Tag("file-receiver/Readiness")<Readiness, ReadonlyArray<Probe>>() {}

export interface ReadinessReport {
  readonly ready: boolean
  /** "ok", or what is wrong, per dependency. */
  readonly checks: Record<string, string>
}

const TIMEOUT = Duration.seconds(2)

/** Runs every probe at once, each with a time limit. */
export const report = (probes: ReadonlyArray<Probe>): Effect.Effect<ReadinessReport> =>
  Effect.forEach(
    probes,
    (probe) =>
      probe.check.pipe(
        Effect.timeoutFail({ duration: TIMEOUT, onTimeout: () => `no answer within ${Duration.format(TIMEOUT)}` }),
        Effect.match({ onFailure: (reason) => [probe.name, reason] as const, onSuccess: () => [probe.name, "ok"] as const })
      ),
    { concurrency: "unbounded" }
  ).pipe(
    Effect.map((results) => ({
      ready: results.every(([, status]) => status === "ok"),
      checks: Object.fromEntries(results)
    }))
  )
