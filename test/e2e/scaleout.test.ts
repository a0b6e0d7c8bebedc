/**
 * Scale-out without Docker: two server processes on two ports share one
 * Redis and one save directory, as replicas behind a load balancer do.
 */
import { randomUUID } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { start, type Started } from "../support/process.js"
import { deleteKeys, redisAvailable, redisUrl } from "../support/redis.js"
import { connect, samplePdf, sha256, upload } from "../support/server.js"

describe.skipIf(!redisAvailable)("two server processes sharing Redis and a save directory", () => {
  const prefix = `file-receiver-scale-${randomUUID()}`
  const processes: Array<Started> = []
  let directory = ""
  const url = (index: number) => `ws://127.0.0.1:${processes[index % 2]!.port}/ws/file-transfer/`

  beforeAll(async () => {
    directory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-scale-"))
    const env = {
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: prefix,
      RATE_LIMIT_KEY_PREFIX: prefix,
      RATE_LIMIT_PER_PERIOD: "60",
      // Only the tus test says where it comes from (a client of its own, outside the rate limit the others spend).
      TRUST_PROXY: "1",
      FILE_SAVE_DIRECTORY: directory,
      LOG_LEVEL: "info"
    }
    processes.push(...(await Promise.all([start(env), start(env)])))
  }, 30_000)

  afterAll(async () => {
    for (const server of processes) server.kill("SIGTERM")
    await Promise.all(processes.map((server) => server.exited))
    await deleteKeys(prefix)
    await fs.rm(directory, { recursive: true, force: true })
  })

  it("stores every upload spread over both, never overwriting, and enforces one shared rate limit", async () => {
    const files = Array.from({ length: 10 }, (_, i) => ({ content: samplePdf(50_000 + i), index: i }))
    const replies = await Promise.all(files.map(async ({ content, index }) => {
      const client = await connect(url(index))
      const reply = await upload(client, "same-name.pdf", content, 64 * 1024)
      client.close()
      return reply
    }))
    // 10 uploads x 2 messages = 20 of the 60 allowed, counted on both processes.
    const stored = replies.map((reply) => /^File (\S+) received/.exec(String(reply.message))?.[1])
    expect(new Set(stored).size).toBe(10)
    const onDisk = new Set(await Promise.all(stored.map(async (name) => sha256(await fs.readFile(path.join(directory, name!))))))
    expect(onDisk).toEqual(new Set(files.map(({ content }) => sha256(content))))

    const a = await connect(url(0))
    const b = await connect(url(1))
    for (let i = 0; i < 20; i++) a.send({ type: "cancel" })
    for (let i = 0; i < 20; i++) b.send({ type: "cancel" })
    for (let i = 0; i < 20; i++) await a.next()
    for (let i = 0; i < 20; i++) await b.next()
    b.send({ type: "cancel" })
    expect(await b.next()).toMatchObject({ type: "error", message: "Rate limit exceeded", code: "rate_limited" })
    expect(await b.closed).toBe(1008)
    a.send({ type: "cancel" })
    expect(await a.next()).toMatchObject({ type: "error", message: "Rate limit exceeded", code: "rate_limited" })
  })

  it("lets a tus upload hop between the processes, request by request, with one writer at a time", async () => {
    const bytes = samplePdf(300_000)
    const base = (index: number) => `http://127.0.0.1:${processes[index % 2]!.port}/files/`
    const tus = { "Tus-Resumable": "1.0.0", "X-Forwarded-For": "203.0.113.7" }
    const created = await fetch(base(0), {
      method: "POST",
      headers: { ...tus, "Upload-Length": String(bytes.length), "Upload-Metadata": `filename ${Buffer.from("hop.pdf").toString("base64")}` }
    })
    expect(created.status, await created.text()).toBe(201)
    const id = created.headers.get("location")!.split("/files/")[1]!
    let busy = 0
    // Three PATCHes of 100,000 bytes, alternating processes; a 423 (the other still holds it) is retried after Retry-After.
    for (let part = 0; part < 3; part++) {
      for (let attempt = 0; ; attempt++) {
        const response = await fetch(`${base(part + 1)}${id}`, {
          method: "PATCH",
          headers: { ...tus, "Upload-Offset": String(part * 100_000), "Content-Type": "application/offset+octet-stream" },
          body: new Uint8Array(bytes.subarray(part * 100_000, (part + 1) * 100_000))
        })
        await response.arrayBuffer()
        if (response.status === 204) break
        expect(response.status).toBe(423)
        expect(attempt).toBeLessThan(5)
        busy++
        await new Promise((resolve) => setTimeout(resolve, Number(response.headers.get("retry-after")) * 1000))
      }
    }
    const status = await fetch(`${base(0)}${id}`, { method: "HEAD", headers: tus })
    expect(status.headers.get("upload-offset")).toBe(String(bytes.length))
    const storedName = status.headers.get("file-receiver-stored-name")!
    expect(sha256(await fs.readFile(path.join(directory, storedName)))).toBe(sha256(bytes))
    expect(busy).toBeLessThanOrEqual(6)
  }, 30_000)
})
