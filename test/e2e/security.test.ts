/**
 * Abuse protection end to end, over real sockets: the origin check (403),
 * bearer tokens (401), connection limits (error, then 1013), the idle and
 * stall timeouts (4000, 4001), and the handshake timeout for a raw TCP
 * socket that never completes its upgrade.
 */
import * as fs from "node:fs/promises"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as Process from "../support/process.js"
import * as Upload from "../../src/domain/Upload.js"
import { chunk, connect, eventually, handshakeStatus, meta, type RunningServer, startServer, type TestClient } from "../support/server.js"

const serverWith = (env: Record<string, string>) => {
  const state = { server: undefined as RunningServer | undefined }
  beforeAll(async () => {
    state.server = await startServer(env)
  })
  afterAll(() => state.server?.stop())
  return () => state.server!
}

describe("origin check (ALLOWED_ORIGINS)", () => {
  const server = serverWith({})

  it("refuses a page from another site with 403", async () => {
    expect(await handshakeStatus(server().url, { origin: "https://evil.example" })).toBe(403)
  })

  it("counts refused handshakes in /metrics", async () => {
    await handshakeStatus(server().url, { origin: "https://evil.example" })
    const metrics = await (await fetch(`http://127.0.0.1:${server().port}/metrics`)).text()
    expect(metrics).toMatch(/file_receiver_connections_refused_total\{reason="origin"\} [1-9]/)
  })

  it("accepts a page from the same host, and clients that send no Origin", async () => {
    expect(await handshakeStatus(server().url, { origin: `http://127.0.0.1:${server().port}` })).toBe(101)
    expect(await handshakeStatus(server().url)).toBe(101)
  })

  describe("with a list", () => {
    const listed = serverWith({ ALLOWED_ORIGINS: "https://app.example" })
    it("accepts exactly the listed origins", async () => {
      expect(await handshakeStatus(listed().url, { origin: "https://app.example" })).toBe(101)
      expect(await handshakeStatus(listed().url, { origin: `http://127.0.0.1:${listed().port}` })).toBe(403)
    })
  })

  describe("with *", () => {
    const any = serverWith({ ALLOWED_ORIGINS: "*" })
    it("accepts any origin", async () => {
      expect(await handshakeStatus(any().url, { origin: "https://evil.example" })).toBe(101)
    })
  })
})

describe("bearer tokens (AUTH_TOKENS)", () => {
  const token = "alice:s3cret-token-for-alice-0001"
  const server = serverWith({ AUTH_TOKENS: token })

  it("refuses a handshake without a token, or with a wrong one, with 401", async () => {
    expect(await handshakeStatus(server().url)).toBe(401)
    expect(await handshakeStatus(server().url, { headers: { authorization: "Bearer wrong-token-wrong-token" } })).toBe(401)
    expect(await handshakeStatus(`${server().url}?token=wrong-token-wrong-token`)).toBe(401)
  })

  it("accepts the token in an Authorization header or in the `token` query parameter, and uploads work", async () => {
    const byHeader = await connect(server().url, { headers: { authorization: "Bearer s3cret-token-for-alice-0001" } })
    byHeader.send(meta("a.txt", 0))
    expect((await byHeader.next()).type).toBe("meta_received")
    byHeader.close()
    const byQuery = await connect(`${server().url}?token=s3cret-token-for-alice-0001`)
    byQuery.send(meta("b.txt", 0))
    expect((await byQuery.next()).type).toBe("meta_received")
    byQuery.close()
  })
})

describe("logs with authentication on", () => {
  it("name the identity and never contain the token, from a header or the query", async () => {
    const secret = "s3cret-token-for-bob-000000002"
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-auth-"))
    const child = await Process.start({ AUTH_TOKENS: `bob:${secret}`, LOG_LEVEL: "debug", FILE_SAVE_DIRECTORY: directory })
    try {
      const url = `ws://127.0.0.1:${child.port}/ws/file-transfer/`
      const client = await connect(`${url}?token=${secret}`)
      client.send(meta("a.txt", 3))
      await client.next()
      client.close()
      await client.closed
      expect(await handshakeStatus(`${url}?token=${secret}x`)).toBe(401)
      expect(await handshakeStatus(url, { headers: { authorization: `Bearer ${secret}y` } })).toBe(401)
      await new Promise((r) => setTimeout(r, 500))
    } finally {
      child.kill("SIGTERM")
    }
    const { output } = await child.exited
    await fs.rm(directory, { recursive: true, force: true })
    expect(output).toMatch(/upload started.*identity=bob/)
    expect(output).toContain("handshake refused: invalid token")
    expect(output).not.toContain("s3cret")
  }, 60_000)
})

describe("connection limits (MAX_CONNECTIONS_PER_IP, MAX_CONNECTIONS)", () => {
  describe("per client", () => {
    const server = serverWith({ MAX_CONNECTIONS_PER_IP: "2" })
    it("the connection over the limit gets an error, then a 1013 close; a closed connection frees its slot", async () => {
      const first = await connect(server().url)
      const second = await connect(server().url)
      const third = await connect(server().url)
      expect(await third.next()).toEqual({
        type: "error",
        message: "Too many connections from this address (limit 2); close one or try again later",
        code: "too_many_connections"
      })
      expect(await third.closed).toBe(1013)
      first.close()
      await first.closed
      const again = await waitForAdmission(server().url)
      again.send(meta("a.txt", 0))
      expect((await again.next()).type).toBe("meta_received")
      again.close()
      second.close()
    })
  })

  describe("in total", () => {
    const server = serverWith({ MAX_CONNECTIONS: "1" })
    it("refuses every connection beyond the total with an error and 1013", async () => {
      const first = await connect(server().url)
      const second = await connect(server().url)
      expect((await second.next()).message).toBe("The server has too many connections; try again later")
      expect(await second.closed).toBe(1013)
      first.close()
    })
  })
})

/** Connects until the server admits the connection (a slot is freed once the server has seen the close). */
const waitForAdmission = async (url: string): Promise<TestClient> => {
  for (let attempt = 0; ; attempt++) {
    const client = await connect(url)
    const outcome = await Promise.race([client.closed.then(() => "closed"), new Promise((r) => setTimeout(() => r("open"), 300))])
    if (outcome === "open") return client
    if (attempt > 20) throw new Error("never admitted")
  }
}

describe("idle and stall timeouts", () => {
  const server = serverWith({ IDLE_TIMEOUT: "1", UPLOAD_STALL_TIMEOUT: "2" })

  it("a connection that sends nothing is closed with 4000 after IDLE_TIMEOUT, with an error first", async () => {
    const client = await connect(server().url)
    const started = Date.now()
    expect((await client.next()).message).toBe("Idle timeout: nothing received for 1 seconds; closing the connection")
    expect(await client.closed).toBe(4000)
    expect(Date.now() - started).toBeGreaterThanOrEqual(900)
  })

  it("an upload with no chunk for UPLOAD_STALL_TIMEOUT gets an error, the connection closes 4001, and the upload resumes", async () => {
    const client = await connect(server().url)
    client.send(meta("stalled.txt", 6))
    const metaReceived = await client.next()
    client.send(chunk(Buffer.from("abc")))
    await client.next()
    expect((await client.next()).message).toBe(
      "Upload stalled: nothing received for 2 seconds; the upload was kept, resume it with its upload_id"
    )
    expect(await client.closed).toBe(4001)
    const again = await connect(server().url)
    again.send({ ...meta("stalled.txt", 6), upload_id: metaReceived["upload_id"] })
    expect(await again.next()).toMatchObject({ type: "meta_received", offset: 3 })
    again.send(chunk(Buffer.from("def")))
    expect((await again.next()).type).toBe("file_received")
    again.close()
  })
})

describe("entries planted in the save directory", () => {
  const server = serverWith({})

  it("a resume whose .<upload_id>.part was replaced by a symlink to a file outside is refused as unknown, and nothing is written or published through it", async () => {
    const elsewhere = await fs.mkdtemp(path.join(os.tmpdir(), "fr-outside-"))
    const outside = path.join(elsewhere, "outside.txt")
    await fs.writeFile(outside, "secret")
    try {
      const first = await connect(server().url)
      first.send(meta("p.txt", 10))
      const { upload_id } = await first.next()
      first.send(chunk(Buffer.from("12345")))
      expect((await first.next()).received).toBe(5)
      first.socket.terminate()
      const part = path.join(server().directory, `.${String(upload_id)}.part`)
      await fs.rm(part)
      await fs.symlink(outside, part)

      const second = await connect(server().url)
      // Until the server has seen the drop, the upload is still held: it answers busy.
      await eventually(async () => {
        second.send({ ...meta("p.txt", 10), upload_id })
        expect(await second.next()).toEqual({ type: "error", message: Upload.UNKNOWN_UPLOAD, code: "unknown_upload" })
      })
      second.send(chunk(Buffer.from("7890")))
      await second.next()
      second.close()

      expect(await fs.readFile(outside, "utf8")).toBe("secret")
      const { ino } = await fs.stat(outside)
      for (const name of await fs.readdir(server().directory)) {
        expect(name).not.toBe("p.txt")
        expect((await fs.lstat(path.join(server().directory, name))).ino).not.toBe(ino)
      }
      expect(await fs.readlink(part)).toBe(outside) // left alone
    } finally {
      await fs.rm(elsewhere, { recursive: true, force: true })
    }
  })
})

describe("handshake timeout (HANDSHAKE_TIMEOUT)", () => {
  const server = serverWith({ HANDSHAKE_TIMEOUT: "1" })

  /** Opens a raw TCP connection, writes `text`, and resolves with the milliseconds until the server closes it. */
  const cutAfter = (port: number, text: string) =>
    new Promise<number>((resolve, reject) => {
      const started = Date.now()
      const socket = net.connect(port, "127.0.0.1", () => socket.write(text))
      socket.on("data", () => {})
      socket.on("close", () => resolve(Date.now() - started))
      socket.on("error", () => {})
      setTimeout(() => reject(new Error("socket still open after 15 s")), 15_000).unref()
    })

  it("a socket that starts an upgrade and never finishes its headers is cut off", async () => {
    const partial = "GET /ws/file-transfer/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    const millis = await cutAfter(server().port, partial)
    expect(millis).toBeGreaterThanOrEqual(900)
    expect(millis).toBeLessThan(10_000)
  })

  it("a socket that sends nothing at all is cut off too", async () => {
    expect(await cutAfter(server().port, "")).toBeLessThan(10_000)
  })

  it("an upgraded connection lives on past the handshake timeout", async () => {
    const client = await connect(server().url)
    await new Promise((r) => setTimeout(r, 2_500))
    client.send(meta("late.txt", 0))
    expect((await client.next()).type).toBe("meta_received")
    client.close()
  })
})

describe("client identity behind trusted proxies (TRUST_PROXY as networks)", () => {
  const server = serverWith({ TRUST_PROXY: "127.0.0.0/8,::1/128", MAX_CONNECTIONS_PER_IP: "1" })

  it("limits follow the address the trusted proxy reports, from Forwarded or X-Forwarded-For", async () => {
    const via = (headers: Record<string, string>) => connect(server().url, { headers })
    const first = await via({ forwarded: "for=198.51.100.1" })
    const sameClient = await via({ "x-forwarded-for": "::ffff:198.51.100.1" })
    expect(await sameClient.closed).toBe(1013)
    const otherClient = await via({ forwarded: "for=\"[2001:db8::1]:4711\"" })
    otherClient.send(meta("a.txt", 0))
    expect((await otherClient.next()).type).toBe("meta_received")
    first.close()
    otherClient.close()
  })
})

describe("bearer tokens from a file (AUTH_TOKENS_FILE)", () => {
  it("accepts the file's tokens, and start-up fails clearly when the file cannot be read", async () => {
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-tokens-"))
    const file = path.join(directory, "tokens")
    await fs.writeFile(file, "# uploaders\ncarol:token-of-carol-0000000003\n")
    const server = await startServer({ AUTH_TOKENS_FILE: file })
    try {
      expect(await handshakeStatus(server.url)).toBe(401)
      expect(await handshakeStatus(server.url, { headers: { authorization: "Bearer token-of-carol-0000000003" } })).toBe(101)
    } finally {
      await server.stop()
    }
    await expect(startServer({ AUTH_TOKENS_FILE: path.join(directory, "missing") })).rejects.toThrow(
      /AUTH_TOKENS_FILE: cannot read .*missing/
    )
    await fs.rm(directory, { recursive: true, force: true })
  })
})

describe("refused handshakes in the log (at the default LOG_LEVEL)", () => {
  it("name the refused Origin, never the token, and a flood of refusals makes only a few lines", async () => {
    const secret = "s3cret-token-for-dave-00000004"
    const wrong = "wrong-token-but-secret-looking-05"
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-refusals-"))
    const child = await Process.start({ AUTH_TOKENS: `dave:${secret}`, FILE_SAVE_DIRECTORY: directory })
    try {
      const url = `ws://127.0.0.1:${child.port}/ws/file-transfer/`
      // The original service's page, served unmodified from another origin.
      expect(await handshakeStatus(url, { origin: "http://localhost:8090" })).toBe(403)
      expect(await handshakeStatus(`${url}?token=${wrong}`)).toBe(401)
      expect(await handshakeStatus(url, { headers: { authorization: `Bearer ${secret}x` } })).toBe(401)
      expect(await handshakeStatus(`ws://127.0.0.1:${child.port}/ws/upload/?token=${secret}`)).toBe(404)
      const flood = await Promise.all(
        Array.from({ length: 50 }, (_, i) => handshakeStatus(url, { origin: `https://flood-${i}.example` }))
      )
      expect(flood.every((status) => status === 403)).toBe(true)
      await new Promise((r) => setTimeout(r, 500))
    } finally {
      child.kill("SIGTERM")
    }
    const { output } = await child.exited
    await fs.rm(directory, { recursive: true, force: true })
    const lines = output.split("\n")

    const origin = lines.filter((line) => line.includes("http://localhost:8090"))
    expect(origin).toHaveLength(1)
    expect(origin[0]).toMatch(/level=WARN .*message="handshake refused: origin not allowed".*origin=http:\/\/localhost:8090/)
    expect(lines.filter((line) => line.includes("handshake refused: invalid token"))).toHaveLength(1)
    expect(output).not.toContain(wrong)
    expect(output).not.toContain("s3cret")
    expect(output).not.toContain("token=")
    expect(output).toMatch(/level=INFO .*message="handshake refused: not the upload path".*path=\/ws\/upload\//)

    // 51 refused origins: a line or two, and every refusal accounted for, logged or counted as left out.
    const originLines = lines.filter((line) => /origin not allowed|kind=origin/.test(line))
    expect(originLines.length).toBeLessThanOrEqual(3)
    const accounted = originLines.reduce((sum, line) => {
      const left = Number(/suppressed=(\d+)/.exec(line)?.[1] ?? 0)
      return sum + left + (line.includes("handshake refused:") ? 1 : 0)
    }, 0)
    expect(accounted).toBe(51)
  }, 60_000)
})
