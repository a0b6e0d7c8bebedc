/**
 * Finds the Redis the adapter tests run against (REDIS_URL or
 * 127.0.0.1:6379). Outside CI a missing Redis skips those suites with a
 * message; in CI (CI=true) or with REQUIRE_REDIS=1 it fails them instead.
 */
import { Redis } from "ioredis"

export const redisUrl = process.env["REDIS_URL"] ?? "redis://127.0.0.1:6379"

export const redisRequired = process.env["CI"] === "true" || process.env["REQUIRE_REDIS"] === "1"

const probe = async (): Promise<boolean> => {
  const client = new Redis(redisUrl, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on("error", () => {})
  try {
    await client.connect()
    return (await client.ping()) === "PONG"
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}

export const redisAvailable = await probe()

if (!redisAvailable) {
  if (redisRequired) {
    throw new Error(`Redis is required (CI=true or REQUIRE_REDIS=1) but does not answer at ${redisUrl}`)
  }
  console.warn(`[file-receiver tests] Redis not reachable at ${redisUrl}: skipping Redis-backed tests (set REDIS_URL, or REQUIRE_REDIS=1 to fail instead)`)
}

/** Deletes every key under `prefix` (test clean-up). */
export const deleteKeys = async (prefix: string): Promise<void> => {
  const client = new Redis(redisUrl)
  try {
    const keys = await client.keys(`${prefix}*`)
    if (keys.length > 0) await client.del(...keys)
  } finally {
    client.disconnect()
  }
}
