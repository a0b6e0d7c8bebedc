/**
 * End to end with STORAGE=s3: the real service talks to a real S3-speaking
 * server (s3rver, started by the test) through the AWS SDK. An upload over
 * WebSockets lands in the bucket byte for byte; an upload started on one
 * instance is finished on another that shares Redis and the bucket.
 */
import { randomBytes, randomUUID } from "node:crypto"
import * as tus from "tus-js-client"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as S3Bucket from "../../src/adapters/s3/S3Bucket.js"
import { PARTIAL_FOLDER } from "../../src/adapters/s3/S3FileStore.js"
import { run } from "../support/process.js"
import { startCopyPartProxy } from "../support/copyPartProxy.js"
import { startProxy } from "../support/proxy.js"
import { deleteKeys, redisAvailable, redisUrl } from "../support/redis.js"
import { type RunningS3, startS3rver } from "../support/s3rver.js"
import { connect, eventually, type RunningServer, sha256, startServer } from "../support/server.js"

const MiB = 1024 * 1024

let s3: RunningS3
beforeAll(async () => {
  s3 = await startS3rver()
})
afterAll(() => s3.stop())

/** The bytes of `key` under `prefix`, read back through the SDK. */
const readBack = async (prefix: string, key: string) => {
  const bucket = S3Bucket.make(s3.settings(prefix))
  try {
    const body = await bucket.read(key)
    if (body === undefined) return undefined
    const chunks: Array<Buffer> = []
    for await (const chunk of body as AsyncIterable<Buffer>) chunks.push(chunk)
    return Buffer.concat(chunks)
  } finally {
    bucket.client.destroy()
  }
}

const keysUnder = async (prefix: string) => {
  const bucket = S3Bucket.make(s3.settings(prefix))
  try {
    return (await bucket.list("")).map((object) => object.key).sort()
  } finally {
    bucket.client.destroy()
  }
}

describe("STORAGE=s3", () => {
  const prefix = `e2e-${randomUUID()}/`
  let server: RunningServer
  beforeAll(async () => {
    server = await startServer({ ...s3.env(prefix), S3_PART_SIZE: String(5 * MiB), FILE_MAX_SIZE: "64", FILE_ALLOWED_EXTENSIONS: "bin,txt" })
  })
  afterAll(() => server.stop())

  it("stores a tus-js-client upload in 4 MiB PATCHes in the bucket, and answers its HEAD with the stored digest", async () => {
    const content = randomBytes(11 * MiB + 5)
    const endpoint = `http://127.0.0.1:${server.port}/files/`
    const url = await new Promise<string>((resolve, reject) => {
      const upload: tus.Upload = new tus.Upload(content, {
        endpoint,
        metadata: { filename: "tus.bin" },
        chunkSize: 4 * MiB,
        retryDelays: [],
        onSuccess: () => resolve(upload.url ?? ""),
        onError: reject
      })
      upload.start()
    })
    expect(sha256((await readBack(prefix, "tus.bin"))!)).toBe(sha256(content))
    const status = await fetch(url, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0" } })
    expect(status.headers.get("upload-offset")).toBe(String(content.length))
    expect(status.headers.get("file-receiver-sha256")).toBe(sha256(content))
  })

  it("stores a 12 MiB upload (binary frames, pipelined) in the bucket with the sha256 the client sent", async () => {
    const content = randomBytes(12 * MiB + 17)
    const client = await connect(server.url)
    client.send({ type: "file_meta", file_name: "big.bin", file_size: content.length, sha256: sha256(content) })
    expect(await client.next()).toMatchObject({ type: "meta_received" })
    const chunkSize = 256 * 1024
    for (let offset = 0; offset < content.length; offset += chunkSize) client.sendRaw(content.subarray(offset, offset + chunkSize), true)
    let last = await client.next(30_000)
    while (last.type === "chunk_received") last = await client.next(30_000)
    expect(last).toMatchObject({ type: "file_received", sha256: sha256(content) })
    expect(last.message).toBe("File big.bin received successfully and file extension is `bin`")
    const stored = await readBack(prefix, "big.bin")
    expect(stored && sha256(stored)).toBe(sha256(content))
    client.close()
  }, 60_000)

  it("a second file of the same name is stored as name_1, never over the first", async () => {
    for (const text of ["one", "two"]) {
      const client = await connect(server.url)
      client.send({ type: "file_meta", file_name: "same.txt", file_size: text.length })
      await client.next()
      client.send({ type: "file_chunk", chunk: Buffer.from(text).toString("base64") })
      expect((await client.next()).type).toBe("file_received")
      client.close()
    }
    expect((await readBack(prefix, "same.txt"))?.toString()).toBe("one")
    expect((await readBack(prefix, "same_1.txt"))?.toString()).toBe("two")
  })

  it("/readyz checks the bucket", async () => {
    const response = await fetch(`http://127.0.0.1:${server.port}/readyz`)
    expect(response.status).toBe(200)
    expect(((await response.json()) as { checks: Record<string, string> }).checks.storage).toBe("ok")
  })
})

describe("STORAGE=s3 start-up", () => {
  it("stops with one clear line and exit code 1 when the bucket does not exist", async () => {
    const { code, output } = await run({ ...s3.env("x/"), S3_BUCKET: "missing-bucket" }).exited
    expect(code).toBe(1)
    expect(output).toMatch(/start-up failed: .*S3 bucket missing-bucket does not answer/)
  }, 60_000)
})

describe.skipIf(!redisAvailable)("STORAGE=s3: resuming on another instance (shared Redis and bucket)", () => {
  const prefix = `e2e-${randomUUID()}/`
  const redisPrefix = `file-receiver-e2e-${randomUUID()}`
  const servers: Array<RunningServer> = []
  beforeAll(async () => {
    const env = {
      ...s3.env(prefix),
      S3_PART_SIZE: String(5 * MiB),
      FILE_MAX_SIZE: "64",
      FILE_ALLOWED_EXTENSIONS: "bin",
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: redisPrefix,
      RATE_LIMIT_KEY_PREFIX: redisPrefix
    }
    // Each instance has a save directory of its own: only Redis and the bucket are shared.
    servers.push(await startServer(env), await startServer(env))
  })
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()))
    await deleteKeys(redisPrefix)
  })

  it("an upload started on one instance is finished on the other, with the whole file's sha256", async () => {
    const [a, b] = servers
    const content = randomBytes(11 * MiB + 5)
    const cut = 7 * MiB + 3 // past one part, with a tail still buffered
    const onA = await connect(a!.url)
    onA.send({ type: "file_meta", file_name: "moved.bin", file_size: content.length, sha256: sha256(content) })
    const { upload_id } = await onA.next()
    for (let offset = 0; offset < cut; offset += MiB) onA.sendRaw(content.subarray(offset, Math.min(offset + MiB, cut)), true)
    let reply = await onA.next()
    while (reply.received !== cut) reply = await onA.next()
    onA.close()

    const onB = await connect(b!.url)
    const resume = { type: "file_meta", file_name: "moved.bin", file_size: content.length, upload_id }
    await eventually(async () => {
      onB.send(resume)
      const answer = await onB.next()
      expect(answer).toMatchObject({ type: "meta_received", offset: cut })
    }, 15_000)
    expect(await keysUnder(prefix)).toContain(`${PARTIAL_FOLDER}${String(upload_id)}`)
    for (let offset = cut; offset < content.length; offset += MiB) onB.sendRaw(content.subarray(offset, offset + MiB), true)
    let done = await onB.next(30_000)
    while (done.type === "chunk_received") done = await onB.next(30_000)
    expect(done).toMatchObject({ type: "file_received", sha256: sha256(content) })
    expect((await readBack(prefix, "moved.bin"))?.equals(content)).toBe(true)
    // Nothing of the partial upload is left in the bucket.
    expect(await keysUnder(prefix)).toEqual(["moved.bin"])
    onB.close()
  }, 60_000)
})

/** The service on the bucket behind `endpoint` (a proxy), in 5 MiB parts, taking .bin files up to 64 MiB. */
const startServerOn = (prefix: string, endpoint: string) =>
  startServer({ ...s3.env(prefix), S3_ENDPOINT: endpoint, S3_PART_SIZE: String(5 * MiB), FILE_MAX_SIZE: "64", FILE_ALLOWED_EXTENSIONS: "bin" })

/**
 * Starts uploading `content` as `name` over `client` and sends it in 256 KiB binary chunks, each once
 * the last was answered, until the end or an error (`before` runs before each chunk, with its offset).
 */
const sendUntilError = async (
  client: Awaited<ReturnType<typeof connect>>,
  name: string,
  content: Buffer,
  before: (offset: number) => void = () => undefined
) => {
  const chunk = 256 * 1024
  client.send({ type: "file_meta", file_name: name, file_size: content.length })
  const uploadId = String((await client.next())["upload_id"])
  let last: Record<string, unknown> = {}
  for (let offset = 0; offset < content.length && last["type"] !== "error"; offset += chunk) {
    before(offset)
    client.sendRaw(content.subarray(offset, offset + chunk), true)
    last = await client.next(30_000)
  }
  return { uploadId, last }
}

describe("STORAGE=s3 while the bucket is down", () => {
  it("an upload is suspended with the parts S3 already holds (storage_unavailable), and resumes from their end once S3 is back", async () => {
    const prefix = `e2e-outage-${randomUUID()}/`
    const proxy = await startProxy(Number(new URL(s3.endpoint).port))
    const server = await startServer({
      ...s3.env(prefix),
      S3_ENDPOINT: `http://127.0.0.1:${proxy.port}`,
      S3_PART_SIZE: String(5 * MiB),
      // One part in flight: once the second part is taken, the first is in S3 (the premise below).
      S3_PART_CONCURRENCY: "1",
      FILE_MAX_SIZE: "64",
      FILE_ALLOWED_EXTENSIONS: "bin"
    })
    try {
      const content = randomBytes(20 * MiB)
      const chunk = 256 * 1024
      const client = await connect(server.url)
      client.send({ type: "file_meta", file_name: "outage.bin", file_size: content.length })
      const uploadId = String((await client.next())["upload_id"])
      let offset = 0
      let refused: Record<string, unknown> | undefined
      while (offset < content.length && refused === undefined) {
        // At least one part (5 MiB) is in the bucket: S3 goes down while the next ones go out.
        if (offset === 11 * MiB) proxy.refuse(true)
        client.sendRaw(content.subarray(offset, offset + chunk), true)
        const reply = await client.next(30_000)
        if (reply.type === "error") refused = reply
        else offset += chunk
      }
      expect(refused).toMatchObject({ type: "error", code: "storage_unavailable" })
      // While S3 is down, a resume is told the same, and nothing is lost.
      client.send({ type: "file_meta", file_name: "outage.bin", file_size: content.length, upload_id: uploadId })
      expect(await client.next(30_000)).toMatchObject({ type: "error", code: "storage_unavailable" })
      proxy.refuse(false)
      client.send({ type: "file_meta", file_name: "outage.bin", file_size: content.length, upload_id: uploadId })
      const resumed = await client.next(30_000)
      expect(resumed).toMatchObject({ type: "meta_received" })
      // What S3 held: whole parts, none of the bytes after them (which the client was told of, see the README).
      const held = Number(resumed["offset"])
      expect(held).toBeGreaterThanOrEqual(5 * MiB)
      expect(held % (5 * MiB)).toBe(0)
      expect(held).toBeLessThanOrEqual(offset)
      let last: Record<string, unknown> = resumed
      for (let at = held; at < content.length; at += chunk) {
        client.sendRaw(content.subarray(at, at + chunk), true)
        last = await client.next(30_000)
      }
      expect(last).toMatchObject({ type: "file_received", sha256: sha256(content) })
      expect(sha256((await readBack(prefix, "outage.bin"))!)).toBe(sha256(content))
      client.close()
    } finally {
      await server.stop()
      await proxy.close()
    }
  }, 60_000)

  it("an outage while the last parts go out (4 in flight) suspends the upload at its last chunk, never discards it; it completes once S3 is back", async () => {
    const prefix = `e2e-outage-last-${randomUUID()}/`
    const proxy = await startProxy(Number(new URL(s3.endpoint).port))
    const server = await startServerOn(prefix, `http://127.0.0.1:${proxy.port}`)
    try {
      const content = randomBytes(20 * MiB)
      const chunk = 256 * 1024
      const client = await connect(server.url)
      // Parts are still going out when S3 goes away: the last chunk's commit is the first to hear of it.
      const sent = await sendUntilError(client, "late.bin", content, (offset) => {
        if (offset === 19 * MiB) proxy.refuse(true)
      })
      const uploadId = sent.uploadId
      let last = sent.last
      expect(last).toMatchObject({ type: "error", code: "storage_unavailable" })
      proxy.refuse(false)
      client.send({ type: "file_meta", file_name: "late.bin", file_size: content.length, upload_id: uploadId })
      const resumed = await client.next(30_000)
      expect(resumed).toMatchObject({ type: "meta_received", upload_id: uploadId })
      for (let at = Number(resumed["offset"]); at < content.length; at += chunk) {
        client.sendRaw(content.subarray(at, at + chunk), true)
        last = await client.next(30_000)
      }
      expect(last).toMatchObject({ type: "file_received", sha256: sha256(content) })
      expect(sha256((await readBack(prefix, "late.bin"))!)).toBe(sha256(content))
      client.close()
    } finally {
      await server.stop()
      await proxy.close()
    }
  }, 60_000)

  it("a publish copy S3 refuses suspends the complete upload (storage_unavailable); a resume publishes it once, with no byte sent again", async () => {
    const prefix = `e2e-copy-refused-${randomUUID()}/`
    let refusing = false
    const proxy = await startCopyPartProxy(s3.endpoint, { refuseCopies: () => refusing })
    const server = await startServerOn(prefix, proxy.endpoint)
    try {
      const content = randomBytes(20 * MiB)
      const client = await connect(server.url)
      refusing = true
      const { last, uploadId } = await sendUntilError(client, "copied.bin", content)
      // Every byte arrived and is in the bucket's .partial/ object; only the copy under its name failed.
      expect(last).toMatchObject({ type: "error", code: "storage_unavailable" })
      expect(await keysUnder(prefix)).toEqual([`${PARTIAL_FOLDER}${uploadId}`, `${PARTIAL_FOLDER}${uploadId}.json`])
      refusing = false
      client.send({ type: "file_meta", file_name: "copied.bin", file_size: content.length, upload_id: uploadId })
      expect(await client.next(30_000)).toMatchObject({ type: "meta_received", upload_id: uploadId, offset: content.length })
      expect(await client.next(30_000)).toMatchObject({ type: "file_received", sha256: sha256(content) })
      expect(sha256((await readBack(prefix, "copied.bin"))!)).toBe(sha256(content))
      expect(await keysUnder(prefix)).toEqual(["copied.bin"])
      client.close()
    } finally {
      await server.stop()
      await proxy.close()
    }
  }, 60_000)
})
