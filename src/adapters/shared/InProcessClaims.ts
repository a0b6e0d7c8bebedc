/**
 * Claims held in this process, for the registries that serve one process
 * (in memory, and sidecar files in one save directory). Each claim has its
 * own token, so a release that runs late (or twice) can never free a claim
 * that someone else holds by then.
 */
import { Effect, HashMap, Option, Ref } from "effect"

/** A fresh set of claims: `claim` (Some release, or None when held) and `holds`, as UploadRegistry has them. */
export const make = Effect.gen(function*() {
  const claims = yield* Ref.make(HashMap.empty<string, number>())
  const tokens = yield* Ref.make(0)
  const claim = (id: string): Effect.Effect<Option.Option<Effect.Effect<void>>> =>
    Effect.flatMap(Ref.updateAndGet(tokens, (n) => n + 1), (token) =>
      Ref.modify(claims, (held) =>
        HashMap.has(held, id)
          ? [Option.none(), held]
          : [
            Option.some(Ref.update(claims, (now) => (Option.contains(HashMap.get(now, id), token) ? HashMap.remove(now, id) : now))),
            HashMap.set(held, id, token)
          ]))
  const holds = (id: string): Effect.Effect<boolean> => Effect.map(Ref.get(claims), HashMap.has(id))
  return { claim, holds }
})
