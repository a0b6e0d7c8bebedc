/** End to end with REDIS_URL set: two instances share one rate limit through a real Redis. */
import { spawn, spawnSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { Redis } from "ioredis"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { deleteKeys, redisAvailable, redisUrl } from "../support/redis.js"
import { connect, eventually, type RunningServer, samplePdf, sha256, startServer } from "../support/server.js"

/**
 * Two in-process instances with one Redis key space and one save directory,
 * started before and stopped (keys and files removed) after the suite.
 */
const twoInstancesSharingEverything = () => {
  const prefix = `file-receiver-e2e-${randomUUID()}`
  const servers: Array<RunningServer> = []
  const shared = { directory: "" }
  beforeAll(async () => {
    shared.directory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-shared-"))
    const env = { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, RATE_LIMIT_KEY_PREFIX: prefix, FILE_SAVE_DIRECTORY: shared.directory }
    servers.push(await startServer(env), await startServer(env))
  })
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()))
    await deleteKeys(prefix)
    await fs.rm(shared.directory, { recursive: true, force: true })
  })
  return { prefix, servers, directory: () => shared.directory }
}

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
    expect(await second.next()).toMatchObject({ type: "error", message: "Rate limit exceeded", code: "rate_limited" })
    expect(await second.closed).toBe(1008)
    first.send({ type: "file_chunk", chunk: "" })
    expect(await first.next()).toMatchObject({ type: "error", message: "Rate limit exceeded", code: "rate_limited" })
  })
})

describe.skipIf(!redisAvailable)("resuming on another instance (shared Redis and save directory)", () => {
  const { directory, servers } = twoInstancesSharingEverything()

  it("an upload started on one instance is refused on another while open, then finished there", async () => {
    const [a, b] = servers
    const content = samplePdf(500_000)
    const onA = await connect(a!.url)
    onA.send({ type: "file_meta", file_name: "moved.pdf", file_size: content.length, sha256: sha256(content) })
    const { upload_id } = await onA.next()
    onA.sendRaw(content.subarray(0, 200_000), true)
    expect((await onA.next()).received).toBe(200_000)

    const onB = await connect(b!.url)
    const resume = { type: "file_meta", file_name: "moved.pdf", file_size: content.length, upload_id }
    onB.send(resume)
    expect((await onB.next()).message).toContain("open on another connection")

    onA.close()
    await eventually(async () => {
      onB.send(resume)
      const reply = await onB.next()
      expect(reply, String(reply.message)).toMatchObject({ type: "meta_received", offset: 200_000 })
    })
    onB.sendRaw(content.subarray(200_000), true)
    expect(await onB.next()).toMatchObject({ type: "file_received", sha256: sha256(content) })
    expect(sha256(await fs.readFile(path.join(directory(), "moved.pdf")))).toBe(sha256(content))
  })
})

describe.skipIf(!redisAvailable)("a claim that lapses while its holder writes", () => {
  const { directory, prefix, servers } = twoInstancesSharingEverything()

  it("never publishes a file two writers appended to", async () => {
    const [a, b] = servers
    const onA = await connect(a!.url)
    onA.send({ type: "file_meta", file_name: "lapsed.txt", file_size: 300 })
    const { upload_id } = await onA.next()
    onA.sendRaw(Buffer.alloc(100, 97), true)
    await onA.next()
    // As if A could not renew its claim in time (a Redis outage, a stalled process):
    const redis = new Redis(redisUrl)
    await redis.del(`${prefix}:upload-claim:${String(upload_id)}`)
    redis.disconnect()

    const onB = await connect(b!.url)
    onB.send({ type: "file_meta", file_name: "lapsed.txt", file_size: 300, upload_id })
    expect(await onB.next()).toMatchObject({ type: "meta_received", offset: 100 })
    onA.sendRaw(Buffer.alloc(200, 97), true)
    expect((await onA.next()).message).toBe("This upload was taken over by another connection while this one was writing it; nothing was published")
    onB.sendRaw(Buffer.alloc(200, 98), true)
    expect((await onB.next()).type).toBe("error")
    expect((await fs.readdir(directory())).filter((name) => !name.startsWith("."))).toEqual([])
  })
})

describe.skipIf(!redisAvailable || spawnSync("redis-server", ["--version"]).status !== 0)("readiness with Redis", () => {
  it("/readyz names redis while it is down, and is ready again once it is back", async () => {
    const port = 6391
    const startRedis = () => {
      const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: "ignore" })
      return child
    }
    let redis = startRedis()
    const url = `redis://127.0.0.1:${port}`
    await eventually(async () => expect(spawnSync("redis-cli", ["-p", String(port), "ping"]).stdout.toString()).toContain("PONG"))
    const server = await startServer({ REDIS_URL: url, REDIS_KEY_PREFIX: `ready-${randomUUID()}` })
    const readyz = async () => {
      const response = await fetch(`http://127.0.0.1:${server.port}/readyz`)
      return { status: response.status, body: (await response.json()) as { failing?: Array<string>; checks: Record<string, string> } }
    }
    try {
      expect(await readyz()).toMatchObject({ status: 200, body: { checks: { storage: "ok", redis: "ok" } } })
      redis.kill("SIGKILL")
      await eventually(async () => expect(await readyz()).toMatchObject({ status: 503, body: { failing: ["redis"] } }))
      redis = startRedis()
      await eventually(async () => expect((await readyz()).status).toBe(200), 15_000)
    } finally {
      await server.stop()
      redis.kill("SIGKILL")
    }
  }, 30_000)
})
