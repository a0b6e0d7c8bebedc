import { describe, expect, it } from "@effect/vitest"
import { Effect, Metric, MetricLabel, TestClock } from "effect"
import * as MetricUpdates from "../../../src/application/infrastructure/MetricUpdates.js"
import * as Metrics from "../../../src/application/infrastructure/Metrics.js"

const labels = [MetricLabel.make("transport", "test-metrics")]

describe("MetricUpdates.add", () => {
  it.effect("adds to the counter under the fiber's metric labels, as Metric.incrementBy does", () =>
    Effect.gen(function*() {
      const ours = Metric.counter("test_metrics_add_total", { incremental: true })
      const effects = Metric.counter("test_metrics_increment_by_total", { incremental: true })
      yield* Effect.all([MetricUpdates.add(ours, 3), MetricUpdates.add(ours, 4), Metric.incrementBy(effects, 3), Metric.incrementBy(effects, 4)]).pipe(
        Effect.labelMetrics(labels)
      )
      const labelled = (counter: Metric.Metric.Counter<number>) => Metric.value(counter.pipe(Metric.tagged("transport", "test-metrics")))
      expect((yield* labelled(ours)).count).toBe(7)
      expect(yield* labelled(ours)).toEqual(yield* labelled(effects))
      // Nothing under the unlabelled key.
      expect((yield* Metric.value(ours)).count).toBe(0)
    }))
})

describe("MetricUpdates.timeChunk", () => {
  const histogram = Metrics.chunkSeconds.pipe(Metric.tagged("transport", "test-metrics"))

  it.effect("records the step's time by Effect's Clock, in seconds, under the fiber's labels, and returns its value", () =>
    Effect.gen(function*() {
      const before = yield* Metric.value(histogram)
      const step = Effect.zipRight(TestClock.adjust("3 millis"), Effect.succeed("stored"))
      const value = yield* MetricUpdates.timeChunk(step).pipe(Effect.labelMetrics(labels))
      const after = yield* Metric.value(histogram)
      expect(value).toBe("stored")
      expect(after.count - before.count).toBe(1)
      expect(after.sum - before.sum).toBeCloseTo(0.003, 9)
    }))

  it.effect("records nothing for a step that fails", () =>
    Effect.gen(function*() {
      const before = yield* Metric.value(histogram)
      const failed = yield* MetricUpdates.timeChunk(Effect.fail("disk full")).pipe(Effect.labelMetrics(labels), Effect.flip)
      expect(failed).toBe("disk full")
      expect((yield* Metric.value(histogram)).count).toBe(before.count)
    }))
})
