/**
 * DiskSpace for tests: a fixed number of free bytes, changeable through a Ref.
 */
import { Effect, Layer, Ref } from "effect"
import { DiskSpace } from "../../application/ports/DiskSpace.js"

/** Reports `bytes` free until the returned Ref is set to something else. */
export const make = (bytes: number) =>
  Effect.map(Ref.make(bytes), (free) => ({ free, diskSpace: DiskSpace.of({ available: Ref.get(free) }) }))

/** A disk with `bytes` free, fixed. */
export const layerFixed = (bytes: number): Layer.Layer<DiskSpace> =>
  Layer.effect(DiskSpace, Effect.map(make(bytes), ({ diskSpace }) => diskSpace))
