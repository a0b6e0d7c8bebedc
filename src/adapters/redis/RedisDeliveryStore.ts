/**
 * DeliveryStore on Redis, shared by every instance: the deliveries in a hash
 * `<prefix>:webhook:deliveries`, their attempt counts in
 * `<prefix>:webhook:attempts`, and a sorted set `<prefix>:webhook:due` scored
 * by when each may next be claimed. A claim (one Lua script) takes the due
 * ids and moves their score to the end of the lease, so no other instance
 * sees them until then; retry and acknowledge settle them.
 */
import { Effect, Layer } from "effect"
import type { Redis } from "ioredis"
import { type Delivery, DeliveryStore, DeliveryStoreError } from "../../application/ports/DeliveryStore.js"
import { RedisClient } from "./RedisClient.js"

/** KEYS deliveries, attempts, due; ARGV id, json, dueAt. */
const ADD = `
if redis.call("HSETNX", KEYS[1], ARGV[1], ARGV[2]) == 1 then
  redis.call("HSET", KEYS[2], ARGV[1], 0)
  redis.call("ZADD", KEYS[3], ARGV[3], ARGV[1])
end
return 1
`

/** KEYS deliveries, attempts, due; ARGV now, leaseUntil, limit. Returns { json, attempts, dueAt, ... }. */
const CLAIM = `
local ids = redis.call("ZRANGEBYSCORE", KEYS[3], "-inf", ARGV[1], "WITHSCORES", "LIMIT", 0, tonumber(ARGV[3]))
local out = {}
for i = 1, #ids, 2 do
  local id = ids[i]
  local json = redis.call("HGET", KEYS[1], id)
  if json then
    redis.call("ZADD", KEYS[3], ARGV[2], id)
    table.insert(out, json)
    table.insert(out, redis.call("HGET", KEYS[2], id) or "0")
    table.insert(out, ids[i + 1])
  else
    redis.call("ZREM", KEYS[3], id)
  end
end
return out
`

/** KEYS deliveries, attempts, due; ARGV id, attempts, dueAt. */
const RETRY = `
if redis.call("HEXISTS", KEYS[1], ARGV[1]) == 1 then
  redis.call("HSET", KEYS[2], ARGV[1], ARGV[2])
  redis.call("ZADD", KEYS[3], ARGV[3], ARGV[1])
end
return 1
`

export const make = (prefix: string) =>
  Effect.map(RedisClient, (redis: Redis) => {
    const keys = [`${prefix}:webhook:deliveries`, `${prefix}:webhook:attempts`, `${prefix}:webhook:due`] as const
    const call = <A>(f: () => Promise<A>) =>
      Effect.tryPromise({ try: f, catch: (cause) => new DeliveryStoreError({ reason: "Unavailable", cause }) })

    const decode = (rows: ReadonlyArray<string>) =>
      Effect.try({
        try: () => {
          const deliveries: Array<Delivery> = []
          for (let i = 0; i + 2 < rows.length; i += 3) {
            const { body, id, type } = JSON.parse(rows[i]!) as { id: string; type: string; body: string }
            deliveries.push({ id, type, body, attempts: Number(rows[i + 1]), dueAt: Number(rows[i + 2]) })
          }
          return deliveries
        },
        catch: (cause) => new DeliveryStoreError({ reason: "Corrupt", cause })
      })

    return DeliveryStore.of({
      add: (delivery) =>
        call(() =>
          redis.eval(ADD, 3, ...keys, delivery.id, JSON.stringify({ id: delivery.id, type: delivery.type, body: delivery.body }), delivery.dueAt)
        ),
      claimDue: (now, lease, limit) =>
        Effect.flatMap(call(() => redis.eval(CLAIM, 3, ...keys, now, now + lease, limit) as Promise<Array<string>>), decode),
      acknowledge: (id) =>
        call(() => redis.multi().hdel(keys[0], id).hdel(keys[1], id).zrem(keys[2], id).exec()),
      retry: (id, attempts, dueAt) => call(() => redis.eval(RETRY, 3, ...keys, id, attempts, dueAt)),
      pending: call(() => redis.hlen(keys[0]))
    })
  })

/** Deliveries under `<prefix>:webhook:*` in the shared Redis. */
export const layer = (prefix: string): Layer.Layer<DeliveryStore, never, RedisClient> => Layer.effect(DeliveryStore, make(prefix))
