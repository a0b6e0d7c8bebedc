/** In-process DeliveryStore in a Ref, lost on restart (tests, and a reference for the contract). */
import { Effect, Layer, Ref } from "effect"
import { DeliveryStore } from "../../application/ports/DeliveryStore.js"
import { claimFrom, type Held } from "../shared/InProcessDeliveries.js"

export const layerMemory: Layer.Layer<DeliveryStore> = Layer.effect(
  DeliveryStore,
  Effect.map(Ref.make(new Map<string, Held>()), (ref) =>
    DeliveryStore.of({
      add: (delivery) => Ref.update(ref, (held) => held.has(delivery.id) ? held : new Map(held).set(delivery.id, { delivery, leasedUntil: 0 })),
      claimDue: (now, lease, limit) => Ref.modify(ref, (held) => {
        const next = new Map(held)
        return [claimFrom(next, now, lease, limit), next]
      }),
      acknowledge: (id) => Ref.update(ref, (held) => {
        const next = new Map(held)
        next.delete(id)
        return next
      }),
      retry: (id, attempts, dueAt) => Ref.update(ref, (held) => {
        const current = held.get(id)
        return current === undefined ? held : new Map(held).set(id, { delivery: { ...current.delivery, attempts, dueAt }, leasedUntil: 0 })
      }),
      pending: Effect.map(Ref.get(ref), (held) => held.size)
    }))
)
