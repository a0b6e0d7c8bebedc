/** End to end: the real service on port 0, real `ws` clients, a real save directory. */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as path from "node:path"
import { WebSocket } from "ws"
import {
  chunk,
  connect,
  eventually,
  listDirectory,
  meta,
  type RunningServer,
  samplePdf,
  sampleText,
  sha256,
  startServer,
  upload,
  visibleFiles
} from "../support/server.js"

let server: RunningServer
beforeAll(async () => {
  server = await startServer({ MAX_CHUNK_BYTES: String(256 * 1024) })
})
afterAll(() => server.stop())

const readStored = (name: string) => fs.readFile(path.join(server.directory, name))


/** Uploads each file over its own connection, all at once; the final replies, in order. */
const uploadEach = (url: string, files: ReadonlyArray<{ readonly name: string; readonly content: Buffer }>, chunkSize: number) =>
  Promise.all(files.map(async ({ content, name }) => {
    const client = await connect(url)
    const reply = await upload(client, name, content, chunkSize)
    client.close()
    return reply
  }))

describe("uploading over the seed protocol", () => {
  it("stores a multi-chunk upload byte for byte (sha256) and answers every step", async () => {
    const client = await connect(server.url)
    const content = samplePdf(1024 * 1024 + 123)
    client.send(meta("big.pdf", content.length))
    expect(await client.next()).toMatchObject({
      type: "meta_received",
      message: "Ready to receive file",
      max_chunk_bytes: 256 * 1024,
      binary_chunks: true,
      offset: 0
    })
    const replies = []
    for (let offset = 0; offset < content.length; offset += 64 * 1024) {
      client.send(chunk(content.subarray(offset, offset + 64 * 1024)))
      replies.push(await client.next())
    }
    expect(replies.slice(0, -1).every((r) => r.type === "chunk_received" && r.message === "Ready for next chunk")).toBe(true)
    expect(replies.at(-1)).toEqual({
      type: "file_received",
      message: "File big.pdf received successfully and file extension is `pdf`",
      extension: "pdf",
      sha256: sha256(content),
      stored_name: "big.pdf"
    })
    expect(sha256(await readStored("big.pdf"))).toBe(sha256(content))
    client.close()
  })

  it("accepts the endpoint without its trailing slash", async () => {
    const client = await connect(server.url.replace(/\/$/, ""))
    expect((await upload(client, "slash.txt", Buffer.from("ok"))).type).toBe("file_received")
    client.close()
  })

  it("completes a 0-byte file right after meta_received", async () => {
    const client = await connect(server.url)
    client.send(meta("nothing.txt", 0))
    expect((await client.next()).type).toBe("meta_received")
    expect((await client.next()).message).toBe("File nothing.txt received successfully and file extension is `txt`")
    expect((await readStored("nothing.txt")).length).toBe(0)
    client.close()
  })

  it("never overwrites: the same name twice is stored as name_1 and reported so", async () => {
    const client = await connect(server.url)
    await upload(client, "twice.txt", Buffer.from("first"))
    const second = await upload(client, "twice.txt", Buffer.from("second"))
    expect(second.message).toBe("File twice_1.txt received successfully and file extension is `txt`")
    expect((await readStored("twice.txt")).toString()).toBe("first")
    expect((await readStored("twice_1.txt")).toString()).toBe("second")
    client.close()
  })

  it("cleans hostile names and keeps every file inside the save directory", async () => {
    const client = await connect(server.url)
    const outside = path.join(path.dirname(server.directory), "escaped.txt")
    const reply = await upload(client, `../../${path.basename(path.dirname(server.directory))}/escaped.txt`, Buffer.from("x"))
    expect(reply.message).toBe("File escaped.txt received successfully and file extension is `txt`")
    await expect(fs.stat(outside)).rejects.toThrow()
    const hidden = await upload(client, "$.txt", Buffer.from("x"))
    expect(hidden.type).toBe("error")
    const upper = await upload(client, "Photo.JPG", Buffer.from([0xff, 0xd8, 0xff, 0xe0]))
    expect(upper).toMatchObject({ type: "file_received", extension: "jpg" })
    client.close()
  })

  it("50 concurrent uploads all arrive intact", async () => {
    const files = Array.from({ length: 50 }, (_, i) => ({ name: `concurrent-${i}.txt`, content: sampleText(20_000 + i * 997) }))
    const replies = await uploadEach(server.url, files, 16 * 1024)
    expect(replies.every((r) => r.type === "file_received")).toBe(true)
    for (const { content, name } of files) expect(sha256(await readStored(name))).toBe(sha256(content))
  })
})

describe("pacing (MAX_CHUNKS_IN_FLIGHT)", () => {
  it("with one chunk in flight allowed, concurrent stop-and-wait uploads take turns and all arrive intact", async () => {
    const paced = await startServer({ MAX_CHUNKS_IN_FLIGHT: "1" })
    try {
      const files = Array.from({ length: 4 }, (_, i) => ({ name: `paced-${i}.pdf`, content: samplePdf(300_000 + i * 1000) }))
      const replies = await uploadEach(paced.url, files, 32 * 1024)
      expect(replies.map((r) => r.type)).toEqual(["file_received", "file_received", "file_received", "file_received"])
      for (const { content, name } of files) expect(sha256(await fs.readFile(path.join(paced.directory, name)))).toBe(sha256(content))
    } finally {
      await paced.stop()
    }
  })

  it("a client that never sends after meta_received holds its invitation only for the lease (2 s)", async () => {
    const paced = await startServer({ MAX_CHUNKS_IN_FLIGHT: "1" })
    try {
      const idle = await connect(paced.url)
      idle.send(meta("never.pdf", 1000))
      expect((await idle.next()).type).toBe("meta_received")
      const client = await connect(paced.url)
      const started = Date.now()
      const reply = await upload(client, "after.pdf", samplePdf(10_000), 4096)
      expect(reply.type).toBe("file_received")
      expect(Date.now() - started).toBeLessThan(10_000)
      idle.close()
      client.close()
    } finally {
      await paced.stop()
    }
  })
})

describe("binary frames and pipelining", () => {
  it("a file sent as binary frames, all at once without waiting, is stored intact and every chunk answered in order", async () => {
    const client = await connect(server.url)
    const content = samplePdf(3 * 1024 * 1024 + 17)
    const size = 200 * 1024
    client.send(meta("pipelined.pdf", content.length))
    expect((await client.next()).binary_chunks).toBe(true)
    for (let offset = 0; offset < content.length; offset += size) client.sendRaw(content.subarray(offset, offset + size), true)
    const count = Math.ceil(content.length / size)
    const replies = []
    for (let i = 0; i < count; i++) replies.push(await client.next())
    expect(replies.slice(0, -1).map((r) => r.received)).toEqual(
      Array.from({ length: count - 1 }, (_, i) => (i + 1) * size)
    )
    expect(replies.at(-1)?.message).toBe("File pipelined.pdf received successfully and file extension is `pdf`")
    // The store frees each chunk once written: the digest must still have seen every byte.
    expect(replies.at(-1)?.sha256).toBe(sha256(content))
    expect(sha256(await readStored("pipelined.pdf"))).toBe(sha256(content))
    client.close()
  })

  it("text and binary chunks can be mixed in one upload", async () => {
    const client = await connect(server.url)
    client.send(meta("mixed.txt", 6))
    await client.next()
    client.sendRaw(Buffer.from("abc"), true)
    client.send(chunk(Buffer.from("def")))
    expect((await client.next()).received).toBe(3)
    expect((await client.next()).type).toBe("file_received")
    expect((await readStored("mixed.txt")).toString()).toBe("abcdef")
    client.close()
  })

  it("a binary chunk over MAX_CHUNK_BYTES is refused and the upload goes on", async () => {
    const client = await connect(server.url)
    client.send(meta("big-binary.pdf", 1024 * 1024))
    await client.next()
    client.sendRaw(randomBytes(256 * 1024 + 1), true)
    expect((await client.next()).message).toBe("Chunk too large: 262145 bytes exceeds the limit of 262144 bytes per chunk")
    client.sendRaw(randomBytes(1000), true)
    expect((await client.next()).received).toBe(1000)
    client.close()
  })
})

describe("resume", () => {
  it("an upload cut off at random points, again and again, resumes each time and ends intact", async () => {
    const content = samplePdf(2 * 1024 * 1024 + 321)
    const piece = 64 * 1024
    let uploadId: unknown
    let last: Record<string, unknown> = {}
    let connections = 0
    for (let attempt = 0; attempt < 40 && last["type"] !== "file_received"; attempt++) {
      connections++
      const client = await connect(server.url)
      client.send({ ...meta("flaky.pdf", content.length), sha256: sha256(content), ...(uploadId === undefined ? {} : { upload_id: uploadId }) })
      const opened = await client.next()
      expect(opened.type).toBe("meta_received")
      uploadId = opened.upload_id
      const cutAfter = 1 + Math.floor(Math.random() * 6)
      let offset = Number(opened.offset)
      for (let sent = 0; offset < content.length; sent++) {
        if (sent === cutAfter) break
        const bytes = content.subarray(offset, offset + piece)
        client.sendRaw(bytes, true)
        offset += bytes.length
      }
      if (offset >= content.length) {
        for (;;) {
          last = await client.next()
          if (last["type"] !== "chunk_received") break
        }
        client.close()
      } else {
        // Drop the connection with chunks possibly still in flight.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5))
        client.socket.terminate()
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
    expect(connections).toBeGreaterThan(3)
    expect(last).toMatchObject({ type: "file_received", sha256: sha256(content) })
    expect(sha256(await readStored("flaky.pdf"))).toBe(sha256(content))
  })

  it("a peer that stops answering pings is cut off, and its upload can then be resumed", async () => {
    const quick = await startServer({ HEARTBEAT_INTERVAL: "1" })
    try {
      const dead = await connect(quick.url)
      dead.send(meta("silent.pdf", 1000))
      const { upload_id } = await dead.next()
      dead.socket.pause() // no more reads: pings go unanswered, as on a link that died without a FIN
      const started = Date.now()
      const again = await connect(quick.url)
      await eventually(async () => {
        again.send({ ...meta("silent.pdf", 1000), upload_id })
        expect(await again.next()).toMatchObject({ type: "meta_received", offset: 0 })
      }, 5_000)
      expect(Date.now() - started).toBeLessThan(4_000)
      again.close()
      dead.socket.terminate()
    } finally {
      await quick.stop()
    }
  })

  it("a second connection cannot write an upload that another connection has open", async () => {
    const first = await connect(server.url)
    first.send(meta("contested.pdf", 1000))
    const { upload_id } = await first.next()
    const second = await connect(server.url)
    second.send({ ...meta("contested.pdf", 1000), upload_id })
    expect((await second.next()).message).toBe("This upload is open on another connection; close that one first or wait for it to time out")
    first.close()
    await eventually(async () => {
      second.send({ ...meta("contested.pdf", 1000), upload_id })
      expect(await second.next()).toMatchObject({ type: "meta_received", offset: 0 })
    })
    second.close()
  })
})

describe("errors are answered with a clear message and the connection stays usable", () => {
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<unknown>, string, string]> = [
    ["a chunk before file_meta", [chunk(Buffer.from("a"))], "No upload in progress: send file_meta first", "no_upload"],
    ["invalid JSON", ["{not json"], "Invalid message: expected a JSON object", "invalid_message"],
    ["an unknown type", [{ type: "hello" }], "Unknown message type: \"hello\" (expected file_meta, file_chunk or cancel)", "unknown_type"],
    ["a negative size", [meta("a.txt", -1)], "file_size: expected a non-negative integer", "invalid_message"],
    ["a fractional size", [meta("a.txt", 1.5)], "file_size: expected a non-negative integer", "invalid_message"],
    ["an empty name", [meta("", 1)], "file_name: expected a non-empty string", "invalid_message"],
    ["a refused extension", [meta("tool.exe", 1)], "Invalid file extension: exe. Allowed: txt, pdf, png, jpg, jpeg, gif", "invalid_extension"],
    ["a name without extension", [meta("README", 1)], "Invalid file name: it needs a name and an extension (letters, digits, '.', '_' or '-'), like report.pdf", "invalid_name"],
    ["a file over FILE_MAX_SIZE", [meta("huge.pdf", 20 * 1024 * 1024 + 1)], "File too large: 20971521 bytes exceeds the limit of 20971520 bytes (20 MiB)", "file_too_large"],
    ["lenient base64", [meta("b.txt", 4), { type: "file_chunk", chunk: "YQ==YQ==" }], "Invalid base64 in chunk", "invalid_base64"],
    ["bytes beyond the declared size", [meta("c.txt", 4), chunk(Buffer.from("12345"))], "Chunk exceeds the declared file size (4 bytes); upload discarded", "exceeds_size"]
  ]

  it.each(cases)("%s", async (_, messages, expected, code) => {
    const client = await connect(server.url)
    for (const message of messages) client.send(message)
    const replies = await Promise.all(messages.map(() => client.next()))
    expect(replies.at(-1)).toEqual({ type: "error", message: expected, code })
    expect((await upload(client, "after-error.txt", Buffer.from("still works"))).type).toBe("file_received")
    client.close()
  })

  it("a binary frame outside an upload gets an error message, not a crash", async () => {
    const client = await connect(server.url)
    client.sendRaw(Buffer.from([0, 1, 2, 3]), true)
    expect(await client.next()).toEqual({ type: "error", message: "No upload in progress: send file_meta first", code: "no_upload" })
    expect((await upload(client, "after-binary.txt", Buffer.from("ok"))).type).toBe("file_received")
    client.close()
  })

  it("a frame larger than the biggest legitimate chunk closes the connection with 1009", async () => {
    const client = await connect(server.url)
    client.send(meta("d.txt", 2_000_000))
    await client.next()
    client.send(chunk(randomBytes(1024 * 1024)))
    expect(await client.closed).toBe(1009)
  })

  it("a chunk over MAX_CHUNK_BYTES (but within the frame limit) is refused, the upload goes on", async () => {
    const client = await connect(server.url)
    client.send(meta("e.txt", 300 * 1024))
    await client.next()
    client.send(chunk(sampleText(256 * 1024 + 1)))
    expect((await client.next()).message).toBe("Chunk too large: 262145 bytes exceeds the limit of 262144 bytes per chunk")
    client.send(chunk(sampleText(300 * 1024).subarray(0, 256 * 1024)))
    expect((await client.next()).type).toBe("chunk_received")
    client.close()
  })

  it("a disconnect mid-upload publishes nothing and keeps the partial data for a resume", async () => {
    const client = await connect(server.url)
    client.send(meta("cut-off.pdf", 1_000_000))
    const { upload_id } = await client.next()
    client.send(chunk(samplePdf(64 * 1024)))
    await client.next()
    client.socket.terminate()
    await eventually(async () => {
      const names = await listDirectory(server.directory)
      expect(names.filter((n) => n.startsWith("cut-off"))).toEqual([])
      expect(names).toContain(`.${String(upload_id)}.part`)
    })
    const again = await connect(server.url)
    again.send({ ...meta("cut-off.pdf", 1_000_000), upload_id })
    expect(await again.next()).toMatchObject({ type: "meta_received", offset: 64 * 1024 })
    again.close()
  })

  it("resumes with base64 chunks that carry their offset, refusing one at the wrong offset, and stores every byte", async () => {
    const content = samplePdf(300_000)
    const withOffset = (start: number, end: number) => ({ ...chunk(content.subarray(start, end)), offset: start })
    const first = await connect(server.url)
    first.send(meta("offsets.pdf", content.length))
    const { upload_id } = await first.next()
    first.send(withOffset(0, 100_000))
    expect(await first.next()).toMatchObject({ type: "chunk_received", received: 100_000 })
    first.socket.terminate()

    const again = await connect(server.url)
    again.send({ ...meta("offsets.pdf", content.length), upload_id })
    expect(await again.next()).toMatchObject({ type: "meta_received", offset: 100_000 })
    // A retransmission of the first chunk is refused, naming the offset to send.
    again.send(withOffset(0, 100_000))
    expect(await again.next()).toEqual({
      type: "error",
      message: "Chunk offset 0 is not where the upload is: the server has 100000 bytes; send the chunk at offset 100000",
      code: "wrong_offset"
    })
    again.send(withOffset(100_000, 200_000))
    expect(await again.next()).toMatchObject({ type: "chunk_received", received: 200_000 })
    again.send(withOffset(200_000, 300_000))
    expect(await again.next()).toMatchObject({ type: "file_received", sha256: sha256(content) })
    expect(sha256(await readStored("offsets.pdf"))).toBe(sha256(content))
    again.close()
  })
})

describe("HTTP", () => {
  it("serves the upload page at / and a health check at /healthz", async () => {
    const page = await fetch(`http://127.0.0.1:${server.port}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get("content-type")).toContain("text/html")
    expect(await page.text()).toContain("/ws/file-transfer/")
    const health = await fetch(`http://127.0.0.1:${server.port}/healthz`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: "ok" })
  })

  it("/readyz answers 200 while the save directory is writable, and 503 naming storage when it is not", async () => {
    const scratch = await startServer()
    try {
      const ready = await fetch(`http://127.0.0.1:${scratch.port}/readyz`)
      expect(ready.status).toBe(200)
      expect(await ready.json()).toEqual({ status: "ready", checks: { storage: "ok" } })
      await fs.rm(scratch.directory, { recursive: true, force: true })
      const broken = await fetch(`http://127.0.0.1:${scratch.port}/readyz`)
      expect(broken.status).toBe(503)
      const body = (await broken.json()) as { status: string; failing: Array<string>; checks: Record<string, string> }
      expect(body).toMatchObject({ status: "not ready", failing: ["storage"] })
      expect(body.checks["storage"]).toContain("save directory not writable")
    } finally {
      await scratch.stop()
    }
  })

  it("/metrics is valid Prometheus text and counts uploads, bytes, failures and open connections", async () => {
    type Samples = Map<string, number>
    const scrape = async (): Promise<Samples> => {
      const response = await fetch(`http://127.0.0.1:${server.port}/metrics`)
      expect(response.headers.get("content-type")).toContain("text/plain")
      const samples: Samples = new Map()
      const typed = new Map<string, string>()
      for (const line of (await response.text()).trim().split("\n")) {
        if (line.startsWith("# TYPE ")) {
          const [, , name, type] = line.split(" ")
          typed.set(name!, type!)
          // A counter only ever goes up: what can go down (open fibers, say) is a gauge.
          if (name!.endsWith("_total")) expect(type, line).toBe("counter")
          if (name === "effect_fiber_active") expect(type, line).toBe("gauge")
          continue
        }
        if (line.startsWith("# HELP ")) continue
        const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+-]+|\+Inf)$/.exec(line)
        expect(match, line).not.toBeNull()
        const family = match![1]!.replace(/_(bucket|sum|count)$/, "")
        expect(typed.has(match![1]!) || typed.has(family), line).toBe(true)
        samples.set(`${match![1]}${match![2] ?? ""}`, Number(match![3]))
      }
      return samples
    }
    const before = await scrape()
    const client = await connect(server.url)
    const content = sampleText(5000)
    await upload(client, "metered.txt", content)
    await upload(client, "refused.exe", Buffer.from("x"))
    const during = await scrape()
    client.close()
    const delta = (name: string) => (during.get(name) ?? 0) - (before.get(name) ?? 0)
    expect(delta('file_receiver_uploads_completed_total{transport="websocket"}')).toBe(1)
    expect(delta('file_receiver_uploads_started_total{transport="websocket"}')).toBe(1)
    expect(delta('file_receiver_bytes_received_total{transport="websocket"}')).toBe(5000)
    expect(during.get('file_receiver_active_connections{transport="websocket"}')).toBeGreaterThanOrEqual(1)
    expect(delta('file_receiver_chunk_processing_seconds_count{transport="websocket"}')).toBeGreaterThanOrEqual(1)
    expect(during.get("process_resident_memory_bytes")).toBeGreaterThan(0)
  })

  it("answers 404 to other paths, for HTTP and for WebSocket upgrades", async () => {
    expect((await fetch(`http://127.0.0.1:${server.port}/nope`)).status).toBe(404)
    const status = await new Promise<number | undefined>((resolve) => {
      const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws/other/`)
      socket.on("unexpected-response", (_, response) => resolve(response.statusCode))
      socket.on("error", () => resolve(undefined))
    })
    expect(status).toBe(404)
  })
})

describe("rate limit", () => {
  let limited: RunningServer
  beforeAll(async () => {
    limited = await startServer({ RATE_LIMIT_PER_PERIOD: "5", RATE_LIMIT_PERIOD: "60" })
  })
  afterAll(() => limited.stop())

  it("the message over the limit gets `Rate limit exceeded`, then a 1008 close, and the upload is discarded", async () => {
    const client = await connect(limited.url)
    client.send(meta("limited.txt", 100))
    for (let i = 0; i < 4; i++) client.send(chunk(Buffer.from("x")))
    client.send(chunk(Buffer.from("y")))
    const replies = await Promise.all(Array.from({ length: 6 }, () => client.next()))
    expect(replies.at(-1)).toMatchObject({ type: "error", message: "Rate limit exceeded", code: "rate_limited" })
    expect(replies.at(-1)?.["retry_after"]).toBeGreaterThanOrEqual(1)
    expect(await client.closed).toBe(1008)
    await eventually(async () => expect(await visibleFiles(limited.directory)).toEqual([]))
  })

  it("a burst past the limit is closed at once, even while the server has paused the socket", async () => {
    const burst = await startServer({ RATE_LIMIT_PER_PERIOD: "10", MAX_CHUNK_BYTES: String(1024 * 1024) })
    try {
      const client = await connect(burst.url)
      const started = Date.now()
      client.send(meta("burst.pdf", 20 * 1024 * 1024))
      const piece = chunk(randomBytes(1024 * 1024))
      for (let i = 0; i < 19; i++) client.send(piece)
      expect(await client.closed).toBe(1008)
      expect(Date.now() - started).toBeLessThan(5_000)
      await eventually(async () => expect(await visibleFiles(burst.directory)).toEqual([]))
    } finally {
      await burst.stop()
    }
  }, 10_000)

  it("X-Forwarded-For is ignored by default: a client cannot dodge the limit by forging it", async () => {
    const forged = new WebSocket(limited.url, { headers: { "x-forwarded-for": "203.0.113.77" } })
    const closed = new Promise<number>((resolve) => forged.on("close", (code) => resolve(code)))
    await new Promise((resolve) => forged.on("open", resolve))
    forged.send(JSON.stringify({ type: "ping" }))
    expect(await closed).toBe(1008)
  })

  it("with TRUST_PROXY=1 the limit follows the address the proxy reports", async () => {
    const proxied = await startServer({ TRUST_PROXY: "1", RATE_LIMIT_PER_PERIOD: "1" })
    try {
      const via = async (client: string) => {
        const socket = new WebSocket(proxied.url, { headers: { "x-forwarded-for": client } })
        const replies: Array<string> = []
        socket.on("message", (data) => replies.push(String(data)))
        const closed = new Promise<number>((resolve) => socket.on("close", (code) => resolve(code)))
        await new Promise((resolve) => socket.on("open", resolve))
        return { socket, replies, closed }
      }
      const first = await via("198.51.100.1")
      first.socket.send("{}")
      first.socket.send("{}")
      expect(await first.closed).toBe(1008)
      const second = await via("198.51.100.2")
      second.socket.send("{}")
      await eventually(async () => expect(second.replies.length).toBe(1))
      expect(JSON.parse(second.replies[0]!)).toMatchObject({ type: "error" })
      expect(JSON.parse(second.replies[0]!).message).not.toBe("Rate limit exceeded")
      second.socket.close()
    } finally {
      await proxied.stop()
    }
  })

  it("the limit is per client address, across connections", async () => {
    const client = await connect(limited.url)
    client.send({ type: "ping" })
    expect(await client.next()).toMatchObject({ type: "error", message: "Rate limit exceeded", code: "rate_limited" })
    expect(await client.closed).toBe(1008)
  })
})

describe("hostile transport input never takes the server down", () => {
  const rawRequest = (request: string) =>
    new Promise<string>((resolve) => {
      const socket = net.connect(server.port, "127.0.0.1", () => socket.write(request))
      let answer = ""
      socket.on("data", (data) => (answer += data.toString()))
      socket.on("close", () => resolve(answer))
      socket.on("error", () => resolve(answer))
      setTimeout(() => socket.destroy(), 1_000)
    })
  const stillServing = async () => {
    const client = await connect(server.url)
    expect((await upload(client, "alive.txt", Buffer.from("yes"))).type).toBe("file_received")
    client.close()
  }

  it("an upgrade request with an unparseable URL", async () => {
    await rawRequest("GET http://[ HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
    await stillServing()
  })

  it("clients resetting their connection right after an upgrade request to a wrong path", async () => {
    await Promise.all(Array.from({ length: 100 }, () =>
      new Promise<void>((resolve) => {
        const socket = net.connect(server.port, "127.0.0.1", () => {
          socket.write("GET /nope HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
          socket.resetAndDestroy()
          resolve()
        })
        socket.on("error", () => resolve())
      })))
    await stillServing()
  })

  it("invalid UTF-8 in a text frame closes that connection with 1007 only", async () => {
    const client = await connect(server.url)
    client.sendRaw(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), false)
    expect(await client.closed).toBe(1007)
    await stillServing()
  })
})
