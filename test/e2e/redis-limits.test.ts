/**
 * Limits shared through a real Redis, and what happens when it goes away:
 * each test starts its own redis-server on a free port (never the shared
 * one), so it can stop and restart it. During the outage the server keeps
 * serving with the in-memory limiter, logs the outage once, reconnects by
 * itself, and goes back to Redis when it returns.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { Redis } from "ioredis"
import { describe, expect, it } from "vitest"
import * as Process from "../support/process.js"
import { redisAvailable } from "../support/redis.js"
import { connect, eventually, meta, startServer } from "../support/server.js"

const hasRedisServer = spawnSync("redis-server", ["--version"]).status === 0

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })

/** A redis-server of this test's own on `port`, answering PING. */
const startRedis = async (port: number): Promise<ChildProcess> => {
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore"
  })
  await eventually(async () => expect(spawnSync("redis-cli", ["-p", String(port), "ping"]).stdout.toString()).toContain("PONG"))
  return child
}

const stopRedis = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGKILL")
  })

/** Sends `count` zero-byte uploads on one connection and returns the replies' types, then the close code if any. */
const sendMessages = async (url: string, count: number) => {
  const client = await connect(url)
  const types: Array<string> = []
  for (let i = 0; i < count; i++) {
    client.send(meta(`m${i}.txt`, 0))
    const reply = await client.next()
    types.push(reply.message === "Rate limit exceeded" ? "limited" : reply.type)
    if (reply.type === "meta_received") await client.next()
    if (reply.type === "error") break
  }
  const code = await Promise.race([client.closed, new Promise<string>((r) => setTimeout(() => r("open"), 300))])
  client.close()
  return { types, code }
}

describe.skipIf(!redisAvailable || !hasRedisServer)("limits through Redis", () => {
  it("two instances share one connection limit per client", async () => {
    const port = await freePort()
    const redis = await startRedis(port)
    const env = { REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_KEY_PREFIX: `shared-${randomUUID()}`, MAX_CONNECTIONS_PER_IP: "2" }
    const [a, b] = [await startServer(env), await startServer(env)]
    try {
      const onA = await connect(a.url)
      const onB = await connect(b.url)
      const third = await connect(a.url)
      expect((await third.next()).message).toBe("Too many connections from this address (limit 2); close one or try again later")
      expect(await third.closed).toBe(1013)
      onA.close()
      onB.close()
    } finally {
      await Promise.all([a.stop(), b.stop()])
      await stopRedis(redis)
    }
  }, 60_000)

  it("the connection slots of a crashed instance lapse within the lease time (30 s), so counts never leak", async () => {
    const port = await freePort()
    const redis = await startRedis(port)
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-crash-"))
    const env = { REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_KEY_PREFIX: `crash-${randomUUID()}`, MAX_CONNECTIONS_PER_IP: "1" }
    const crashing = await Process.start({ ...env, FILE_SAVE_DIRECTORY: directory })
    const survivor = await startServer(env)
    try {
      const held = await connect(`ws://127.0.0.1:${crashing.port}/ws/file-transfer/`)
      held.send(meta("a.txt", 0))
      await held.next()
      crashing.kill("SIGKILL")
      await crashing.exited
      const crashedAt = Date.now()
      const refused = await connect(survivor.url)
      expect(await refused.closed).toBe(1013)
      await eventually(async () => {
        const client = await connect(survivor.url)
        const outcome = await Promise.race([client.closed, new Promise<string>((r) => setTimeout(() => r("open"), 300))])
        client.close()
        expect(outcome).toBe("open")
      }, 45_000)
      expect(Date.now() - crashedAt).toBeLessThan(40_000)
    } finally {
      await survivor.stop()
      await stopRedis(redis)
      await fs.rm(directory, { recursive: true, force: true })
    }
  }, 90_000)

  it("a Redis outage falls back to in-memory limits, is logged once, and Redis takes over again when it returns", async () => {
    const port = await freePort()
    let redis = await startRedis(port)
    const prefix = `outage-${randomUUID()}`
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-outage-"))
    const child = await Process.start({
      REDIS_URL: `redis://127.0.0.1:${port}`,
      RATE_LIMIT_KEY_PREFIX: prefix,
      RATE_LIMIT_PER_PERIOD: "6",
      // The default registry with Redis: uploads must go on during the outage too.
      REDIS_KEY_PREFIX: `${prefix}-registry`,
      FILE_SAVE_DIRECTORY: directory
    })
    const url = `ws://127.0.0.1:${child.port}/ws/file-transfer/`
    const client = new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, retryStrategy: () => null })
    client.on("error", () => {})
    try {
      await client.connect()
      expect(await sendMessages(url, 2)).toEqual({ types: ["meta_received", "meta_received"], code: "open" })
      expect(await client.get(`${prefix}:127.0.0.1`)).toBe("2")
      client.disconnect()

      await stopRedis(redis)
      // Redis is gone: an upload with content still goes through (recorded on this instance)...
      const during = await connect(url)
      during.send(meta("during.txt", 5))
      expect(await during.next()).toMatchObject({ type: "meta_received" })
      during.sendRaw(Buffer.from("hello"), true)
      expect(await during.next()).toMatchObject({ type: "file_received" })
      during.close()
      expect(await fs.readFile(path.join(directory, "during.txt"), "utf8")).toBe("hello")
      // ...and the in-memory limiter (starting from zero) still enforces the limit: 2 messages above, 4 here.
      expect(await sendMessages(url, 5)).toEqual({
        types: ["meta_received", "meta_received", "meta_received", "meta_received", "limited"],
        code: 1008
      })
      const second = await sendMessages(url, 1)
      expect(second).toEqual({ types: ["limited"], code: 1008 })

      redis = await startRedis(port)
      const back = new Redis(`redis://127.0.0.1:${port}`, { retryStrategy: () => null })
      back.on("error", () => {})
      try {
        // Once the server has reconnected, counts land in the restarted Redis again.
        await eventually(async () => {
          await sendMessages(url, 1)
          expect(Number(await back.get(`${prefix}:127.0.0.1`))).toBeGreaterThanOrEqual(1)
        }, 20_000)
      } finally {
        back.disconnect()
      }
    } finally {
      child.kill("SIGTERM")
      await child.exited
      await stopRedis(redis)
    }
    const { output } = await child.exited
    await fs.rm(directory, { recursive: true, force: true })
    expect(output.match(/limiter store unavailable/g)?.length, output).toBe(1)
    expect(output).toContain("limiter store available again")
    expect(output.match(/upload registry unavailable/g)?.length, output).toBe(1)
  }, 90_000)
})
