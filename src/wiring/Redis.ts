/**
 * Redis for the wiring: the client every Redis adapter shares, and those
 * adapters loaded only when a setting asks for Redis, so that ioredis is
 * never imported without REDIS_URL.
 */
import { Effect, Layer } from "effect"
import type { RedisSettings } from "../adapters/config/RedisConfig.js"
import type { RedisClient, RedisConnectionError } from "../adapters/redis/RedisClient.js"

type ClientLayer = Layer.Layer<RedisClient, RedisConnectionError>

/** The same Layer value for the same settings (decoded once per configuration): Effect builds a Layer value once per build. */
const clients = new WeakMap<RedisSettings, ClientLayer>()

/** The shared client for `settings`; quit when the service stops. */
export const client = (settings: RedisSettings): ClientLayer => {
  const known = clients.get(settings)
  if (known !== undefined) return known
  const made: ClientLayer = Layer.unwrapEffect(
    Effect.map(Effect.promise(() => import("../adapters/redis/RedisClient.js")), (RedisClient) => RedisClient.layer(settings.url))
  )
  clients.set(settings, made)
  return made
}

/** The layer `use` makes of the module `load` imports: a Redis adapter, imported when the layer is built. */
export const lazy = <M, A, E, R>(load: () => Promise<M>, use: (module: M) => Layer.Layer<A, E, R>): Layer.Layer<A, E, R> =>
  Layer.unwrapEffect(Effect.map(Effect.promise(load), use))

/**
 * `layer` on the shared client of `settings`. Provide it outermost: a layer
 * that builds another on its own (the fallbacks of application/resilience)
 * would otherwise open a connection of its own for it.
 */
export const onClient = (settings: RedisSettings) =>
<A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, E | RedisConnectionError, Exclude<R, RedisClient>> =>
  Layer.provide(layer, client(settings))
