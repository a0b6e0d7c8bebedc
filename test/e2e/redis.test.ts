/** End to end with REDIS_URL set: two instances share one rate limit through a real Redis. */
import { randomUUID } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { deleteKeys, redisAvailable, redisUrl } from "../support/redis.js"
import { connect, type RunningServer, startServer } from "../support/server.js"

describe.skipIf(!redisAvailable)("two instances sharing Redis", () => {
  const prefix = `file-receiver-e2e-${randomUUID()}`
  const servers: Array<RunningServer> = []
  beforeAll(async () => {
    const env = { REDIS_URL: redisUrl, RATE_LIMIT_KEY_PREFIX: prefix, RATE_LIMIT_PER_PERIOD: "6" }
    servers.push(await startServer(env), await startServer(env))
  })
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()))
    await deleteKeys(prefix)
  })

  it("enforce one shared count per client address", async () => {
    const [a, b] = servers
    const first = await connect(a!.url)
    for (let i = 0; i < 3; i++) first.send({ type: "file_chunk", chunk: "" })
    for (let i = 0; i < 3; i++) expect((await first.next()).message).toBe("No upload in progress: send file_meta first")
    const second = await connect(b!.url)
    for (let i = 0; i < 3; i++) second.send({ type: "file_chunk", chunk: "" })
    for (let i = 0; i < 3; i++) expect((await second.next()).type).toBe("error")
    second.send({ type: "file_chunk", chunk: "" })
    expect(await second.next()).toEqual({ type: "error", message: "Rate limit exceeded" })
    expect(await second.closed).toBe(1008)
    first.send({ type: "file_chunk", chunk: "" })
    expect(await first.next()).toEqual({ type: "error", message: "Rate limit exceeded" })
  })
})
