/**
 * The Redis wiring: every Redis adapter of a service shares one client, so
 * the service opens one connection, the fallbacks' primaries included.
 */
import { describe, expect, it } from "@effect/vitest"
import { Redacted } from "effect"
import { randomUUID } from "node:crypto"
import * as net from "node:net"
import { vi } from "vitest"
import type { RedisSettings } from "../../src/adapters/config/RedisConfig.js"
import * as Redis from "../../src/wiring/Redis.js"
import { deleteKeys, redisAvailable, redisRequired, redisUrl } from "../support/redis.js"
import { startServer } from "../support/server.js"

const settings = (): RedisSettings => ({ url: Redacted.make("redis://127.0.0.1:6379"), keyPrefix: "fr", rateLimitKeyPrefix: "rl" })

describe("Redis wiring", () => {
  it("gives every adapter of one configuration the same client Layer, and another configuration its own", () => {
    const configured = settings()
    expect(Redis.client(configured)).toBe(Redis.client(configured))
    expect(Redis.client(settings())).not.toBe(Redis.client(configured))
  })

  it.skipIf(!redisAvailable && !redisRequired)("a service with every Redis adapter configured opens one connection", async () => {
    const prefix = `wiring-${randomUUID()}`
    const port = Number(new URL(redisUrl).port || 6379)
    const connect = vi.spyOn(net.Socket.prototype, "connect")
    const server = await startServer({
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: prefix,
      RATE_LIMIT_KEY_PREFIX: `${prefix}:rate`,
      WEBHOOK_URL: "http://127.0.0.1:9/",
      WEBHOOK_SECRET: "secret",
      EVENTS_STREAM: `${prefix}:events`
    })
    try {
      // Node's net.connect passes its options (and callback) as one array.
      const targets = connect.mock.calls.map(([first]) => (Array.isArray(first) ? first[0] : first) as unknown)
      const toRedis = targets.filter((options) => typeof options === "object" && options !== null && (options as net.TcpSocketConnectOpts).port === port)
      expect(toRedis).toHaveLength(1)
    } finally {
      connect.mockRestore()
      await server.stop()
      await deleteKeys(prefix)
    }
  })
})
