/**
 * Infrastructure, not an idiom to copy: metric updates for what runs for
 * every chunk and every upload, in fewer steps of Effect's run loop (see
 * docs/performance.md and `npm run bench:steps`). New code uses Metric's own
 * `Metric.increment`, `Metric.incrementBy` and `Effect.timed` with
 * `Metric.update`.
 *
 * They make the same updates: the fiber's metric labels, Effect's Clock. Two
 * differences to keep in mind: `timeChunk` reads the labels when the step
 * starts (`Metric.update` reads them when it ends; a step cannot change
 * them), and it records a clock that went backwards as it is, where a
 * `Duration` would clamp it to zero (Effect's clocks do not go backwards).
 */
import { Clock, Context, Effect, FiberRef, type Metric } from "effect"
import { chunkSeconds } from "./Metrics.js"

/** Adds `amount` to `counter`, as `Metric.incrementBy` does. */
export const add = (counter: Metric.Metric.Counter<number>, amount: number): Effect.Effect<void> =>
  Effect.withFiberRuntime((fiber) => {
    counter.unsafeUpdate(amount, fiber.getFiberRef(FiberRef.currentMetricLabels))
    return Effect.void
  })

/** Runs `step` and, when it succeeds, records its time in seconds (Effect's Clock) in chunk_seconds. */
export const timeChunk = <A, E, R>(step: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.withFiberRuntime((fiber) => {
    const clock = Context.get(fiber.currentDefaultServices, Clock.Clock)
    const labels = fiber.getFiberRef(FiberRef.currentMetricLabels)
    const started = clock.unsafeCurrentTimeNanos()
    return Effect.map(step, (value) => {
      chunkSeconds.unsafeUpdate(Number(clock.unsafeCurrentTimeNanos() - started) / 1e9, labels)
      return value
    })
  })
