/**
 * In-process UploadEvents that records every event in a Ref, for tests
 * (read them back through `RecordedEvents`).
 */
import { Context, Effect, Layer, Ref } from "effect"
import { type UploadEvent, UploadEvents } from "../../application/ports/UploadEvents.js"

export class RecordedEvents extends Context.Tag("file-receiver/RecordedEvents")<RecordedEvents, {
  /** Every event published so far, oldest first. */
  readonly all: Effect.Effect<ReadonlyArray<UploadEvent>>
}>() {}

export const layerMemory: Layer.Layer<UploadEvents | RecordedEvents> = Layer.effectContext(
  Effect.map(Ref.make<ReadonlyArray<UploadEvent>>([]), (events) =>
    Context.make(UploadEvents, UploadEvents.of({ publish: (event) => Ref.update(events, (all) => [...all, event]) })).pipe(
      Context.add(RecordedEvents, { all: Ref.get(events) })
    ))
)
