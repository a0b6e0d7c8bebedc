/**
 * End to end: the real service with a pre-upload hook and a webhook, both
 * real HTTP servers in the test, and real WebSocket clients.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { randomUUID } from "node:crypto"
import { existsSync } from "node:fs"
import * as path from "node:path"
import { Redis } from "ioredis"
import { HOOK_UNAVAILABLE } from "../../src/application/ports/PreUploadHook.js"
import { JOURNAL_NAME } from "../../src/adapters/fs/FsDeliveryJournal.js"
import { SIGNATURE_HEADER, verify } from "../../src/adapters/webhook/Signature.js"
import { type Receiver, startReceiver } from "../support/receiver.js"
import { deleteKeys, redisAvailable, redisUrl } from "../support/redis.js"
import { chunk, connect, meta, type RunningServer, sha256, startServer, upload, visibleFiles } from "../support/server.js"

const SECRET = "e2e-webhook-secret"

/** The first request to `receiver` whose JSON body matches `predicate`, once it has arrived. */
const received = async (receiver: Receiver, predicate: (body: Record<string, unknown>) => boolean) => {
  const deadline = Date.now() + 10_000
  for (;;) {
    const request = receiver.requests.find((r) => predicate(JSON.parse(r.body) as Record<string, unknown>))
    if (request !== undefined) return { request, body: JSON.parse(request.body) as Record<string, unknown> }
    if (Date.now() > deadline) throw new Error("no matching request arrived")
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe("pre-upload hook and webhook", () => {
  let server: RunningServer
  let hook: Receiver
  let webhook: Receiver
  beforeAll(async () => {
    hook = await startReceiver((request) => {
      const asked = JSON.parse(request.body) as { file_name: string }
      return asked.file_name.startsWith("forbidden")
        ? { status: 403, body: JSON.stringify({ reason: "Uploads of forbidden files are\nnot allowed" }) }
        : { status: 204 }
    })
    webhook = await startReceiver(() => ({ status: 200 }))
    server = await startServer({ PRE_UPLOAD_HOOK_URL: hook.url, WEBHOOK_URL: webhook.url, WEBHOOK_SECRET: SECRET })
  })
  afterAll(async () => {
    await server.stop()
    await Promise.all([hook.close(), webhook.close()])
  })

  it("the hook refuses with its reason (sanitised) and nothing is stored; it allows the next upload", async () => {
    const client = await connect(server.url)
    client.send(meta("forbidden.txt", 5))
    expect(await client.next()).toEqual({ type: "error", message: "Uploads of forbidden files are not allowed", code: "upload_refused" })
    client.send(chunk(Buffer.from("hello")))
    expect(await client.next()).toEqual({ type: "error", message: "No upload in progress: send file_meta first", code: "no_upload" })
    const last = await upload(client, "allowed.txt", Buffer.from("hello"))
    expect(last).toMatchObject({ type: "file_received" })
    expect(await visibleFiles(server.directory)).toEqual(["allowed.txt"])
    const asked = hook.requests.map((r) => JSON.parse(r.body) as Record<string, unknown>)
    expect(asked.map((body) => body["file_name"])).toEqual(["forbidden.txt", "allowed.txt"])
    expect(asked[1]).toEqual({ type: "upload.requested", file_name: "allowed.txt", file_size: 5, client_address: "127.0.0.1" })
    // Hook requests are signed with WEBHOOK_SECRET too.
    expect(verify(SECRET, hook.requests[1]!.body, String(hook.requests[1]!.headers[SIGNATURE_HEADER]), Math.floor(Date.now() / 1000))).toBe(true)
    client.close()
  })

  it("a completed upload is POSTed to the webhook, signed, with the stored file's location", async () => {
    const client = await connect(server.url)
    const content = Buffer.from("webhook payload check")
    const reply = await upload(client, "report.txt", content)
    expect(reply).toMatchObject({ type: "file_received" })
    const { body, request } = await received(webhook, (event) => event["file_name"] === "report.txt")
    expect(verify(SECRET, request.body, String(request.headers[SIGNATURE_HEADER]), Math.floor(Date.now() / 1000))).toBe(true)
    expect(body).toMatchObject({
      type: "upload.completed",
      stored_name: "report.txt",
      size: content.length,
      extension: "txt",
      sha256: sha256(content),
      location: path.join(path.resolve(server.directory), "report.txt"),
      client_address: "127.0.0.1"
    })
    client.close()
  })

  it("a cancelled upload is reported as upload.cancelled", async () => {
    const client = await connect(server.url)
    client.send(meta("draft.txt", 10))
    const opened = await client.next()
    client.send({ type: "cancel" })
    expect((await client.next()).type).toBe("upload_cancelled")
    const { body } = await received(webhook, (event) => event["upload_id"] === opened["upload_id"])
    expect(body).toMatchObject({ type: "upload.cancelled", reason: "cancelled", file_name: "draft.txt", size: 10 })
    client.close()
  })

  it("/metrics counts the events and the hook's refusals", async () => {
    const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text()
    expect(text).toMatch(/file_receiver_upload_events_total\{type="upload.completed",transport="websocket"\} [1-9]/)
    expect(text).toMatch(/file_receiver_pre_upload_hook_refusals_total\{transport="websocket"\} [1-9]/)
    expect(text).toContain("file_receiver_webhook_deliveries_pending")
  })
})

describe("a pre-upload hook that does not answer in time", () => {
  let slow: Receiver
  const servers: Array<RunningServer> = []
  beforeAll(async () => {
    slow = await startReceiver(() => ({ status: 200, delayMillis: 4_000 }))
  })
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()))
    await slow.close()
  })

  it("refuses the upload by default (fail closed)", async () => {
    const server = await startServer({ PRE_UPLOAD_HOOK_URL: slow.url, PRE_UPLOAD_HOOK_TIMEOUT: "1" })
    servers.push(server)
    const client = await connect(server.url)
    client.send(meta("a.txt", 1))
    expect(await client.next(8_000)).toEqual({ type: "error", message: HOOK_UNAVAILABLE, code: "upload_refused" })
    client.close()
  }, 20_000)

  it("allows it with PRE_UPLOAD_HOOK_FAIL_OPEN=true", async () => {
    const server = await startServer({ PRE_UPLOAD_HOOK_URL: slow.url, PRE_UPLOAD_HOOK_TIMEOUT: "1", PRE_UPLOAD_HOOK_FAIL_OPEN: "true" })
    servers.push(server)
    const client = await connect(server.url)
    client.send(meta("a.txt", 1))
    expect(await client.next(8_000)).toMatchObject({ type: "meta_received" })
    client.close()
  }, 20_000)
})

describe.skipIf(!redisAvailable)("events with REDIS_URL: the Redis stream and Redis-kept webhook deliveries", () => {
  const prefix = `file-receiver-e2e-${randomUUID()}`
  const stream = `${prefix}:events`
  let server: RunningServer
  let webhook: Receiver
  let redis: Redis
  beforeAll(async () => {
    webhook = await startReceiver(() => ({ status: 200 }))
    redis = new Redis(redisUrl)
    await redis.xgroup("CREATE", stream, "app", "$", "MKSTREAM")
    server = await startServer({
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: prefix,
      RATE_LIMIT_KEY_PREFIX: prefix,
      EVENTS_STREAM: stream,
      WEBHOOK_URL: webhook.url,
      WEBHOOK_SECRET: SECRET
    })
  })
  afterAll(async () => {
    await server.stop()
    await webhook.close()
    redis.disconnect()
    await deleteKeys(prefix)
  })

  it("a completed upload is read back from the stream with XREADGROUP and delivered to the webhook", async () => {
    const client = await connect(server.url)
    const content = Buffer.from("streamed event")
    const reply = await upload(client, "streamed.txt", content)
    expect(reply).toMatchObject({ type: "file_received" })
    client.close()
    const batch = (await redis.xreadgroup("GROUP", "app", "e2e", "COUNT", 10, "BLOCK", 5000, "STREAMS", stream, ">")) as
      | Array<[string, Array<[string, Array<string>]>]>
      | null
    const fields = batch?.[0]?.[1]?.[0]?.[1] ?? []
    const entry = Object.fromEntries(fields.flatMap((value, i) => (i % 2 === 0 ? [[value, fields[i + 1]]] : [])))
    expect(entry["type"]).toBe("upload.completed")
    const event = JSON.parse(String(entry["event"])) as Record<string, unknown>
    expect(event).toMatchObject({ type: "upload.completed", stored_name: "streamed.txt", sha256: sha256(content) })
    const { body } = await received(webhook, (e) => e["id"] === event["id"])
    expect(body).toEqual(event)
    // Acknowledged deliveries leave nothing behind in Redis.
    const deadline = Date.now() + 10_000
    while ((await redis.hlen(`${prefix}:webhook:deliveries`)) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    expect(await redis.hlen(`${prefix}:webhook:deliveries`)).toBe(0)
    // With Redis the deliveries are kept there, not in a journal file.
    expect(existsSync(path.join(server.directory, JOURNAL_NAME))).toBe(false)
  })
})
