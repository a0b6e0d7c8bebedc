/**
 * The HTTP endpoint's status codes and header rules, one request at a time
 * with plain `fetch` against the real server: what tus 1.0 and the IETF draft
 * name, and the limits shared with the WebSocket protocol.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import * as net from "node:net"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { type RunningServer, sampleText, startServer } from "../../support/server.js"

const servers: Array<RunningServer> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()))
})

const start = async (env: Record<string, string> = {}) => {
  const server = await startServer({ FILE_MAX_SIZE: "1", ...env })
  servers.push(server)
  return server
}

const TUS = { "Tus-Resumable": "1.0.0" }
const metadata = (name: string) => `filename ${Buffer.from(name).toString("base64")},filetype dGV4dC9wbGFpbg==`
const collection = (server: RunningServer) => `http://127.0.0.1:${server.port}/files/`

const create = (server: RunningServer, name: string, length: number, headers: Record<string, string> = {}) =>
  fetch(collection(server), { method: "POST", headers: { ...TUS, "Upload-Length": String(length), "Upload-Metadata": metadata(name), ...headers } })

const created = async (server: RunningServer, name: string, length: number, headers: Record<string, string> = {}) => {
  const response = await create(server, name, length, headers)
  expect(response.status).toBe(201)
  return response.headers.get("location")!
}

const patch = (url: string, offset: number, body: Buffer, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "PATCH",
    headers: { ...TUS, "Upload-Offset": String(offset), "Content-Type": "application/offset+octet-stream", ...headers },
    body: new Uint8Array(body)
  })

const head = (url: string, headers: Record<string, string> = TUS) => fetch(url, { method: "HEAD", headers })

/** A request whose body is sent in `pieces`, `gapMillis` apart; resolves with the status (0 when the socket was cut). */
const trickle = (url: string, method: string, headers: Record<string, string>, pieces: ReadonlyArray<Buffer>, gapMillis: number) =>
  new Promise<number>((resolve) => {
    const target = new URL(url)
    const length = pieces.reduce((sum, piece) => sum + piece.length, 0)
    const request = http.request({ host: target.hostname, port: target.port, path: target.pathname, method, headers: { ...headers, "Content-Length": String(length) } })
    request.on("response", (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    })
    request.on("error", () => resolve(0))
    const send = (index: number) => {
      if (index === pieces.length) return void request.end()
      request.write(pieces[index])
      setTimeout(() => send(index + 1), gapMillis).unref()
    }
    send(0)
  })

const errorCode = async (response: Response) => ((await response.json()) as { code: string }).code

describe("the tus endpoint at /files/", () => {
  it("announces the version, the extensions, the largest upload and the checksum algorithms on OPTIONS", async () => {
    const server = await start()
    const response = await fetch(collection(server), { method: "OPTIONS" })
    expect(response.status).toBe(204)
    expect(response.headers.get("tus-version")).toBe("1.0.0")
    expect(response.headers.get("tus-extension")?.split(",")).toEqual(
      expect.arrayContaining(["creation", "creation-with-upload", "termination", "expiration", "checksum"])
    )
    expect(response.headers.get("tus-max-size")).toBe(String(1024 * 1024))
    expect(response.headers.get("tus-checksum-algorithm")).toBe("sha1,sha256")
  })

  it("refuses a request without Tus-Resumable with 412 and the version it speaks", async () => {
    const server = await start()
    const response = await fetch(collection(server), { method: "POST", headers: { "Upload-Length": "5", "Upload-Metadata": metadata("a.txt") } })
    expect(response.status).toBe(412)
    expect(response.headers.get("tus-version")).toBe("1.0.0")
    expect(await errorCode(response)).toBe("invalid_message")
  })

  it("refuses an upload longer than Tus-Max-Size with 413, before anything is stored", async () => {
    const server = await start()
    const response = await create(server, "big.txt", 1024 * 1024 + 1)
    expect(response.status).toBe(413)
    expect(await errorCode(response)).toBe("file_too_large")
    expect(await fs.readdir(server.directory)).toEqual([])
  })

  it("refuses a name or an extension the policy does not allow with 400 and its code", async () => {
    const server = await start()
    const response = await create(server, "run.exe", 5)
    expect(response.status).toBe(400)
    expect(await errorCode(response)).toBe("invalid_extension")
  })

  it("answers 404 for an unknown upload", async () => {
    const server = await start()
    const response = await head(`${collection(server)}AAAAAAAAAAAAAAAAAAAAAAAA`)
    expect(response.status).toBe(404)
    const patched = await patch(`${collection(server)}AAAAAAAAAAAAAAAAAAAAAAAA`, 0, Buffer.from("x"))
    expect(await errorCode(patched)).toBe("unknown_upload")
  })

  it("refuses a PATCH at the wrong Upload-Offset with 409 and leaves the upload as it was", async () => {
    const server = await start()
    const url = await created(server, "offset.txt", 10)
    expect((await patch(url, 0, Buffer.from("hello"))).status).toBe(204)
    const wrong = await patch(url, 3, Buffer.from("xxxxx"))
    expect(wrong.status).toBe(409)
    expect(await errorCode(wrong)).toBe("wrong_offset")
    expect((await head(url)).headers.get("upload-offset")).toBe("5")
    expect((await patch(url, 5, Buffer.from("world"))).status).toBe(204)
    expect(await fs.readFile(path.join(server.directory, "offset.txt"), "utf8")).toBe("helloworld")
  })

  it("refuses a PATCH with another content type with 415", async () => {
    const server = await start()
    const url = await created(server, "type.txt", 5)
    const response = await patch(url, 0, Buffer.from("hello"), { "Content-Type": "text/plain" })
    expect(response.status).toBe(415)
    expect((await head(url)).headers.get("upload-offset")).toBe("0")
  })

  it("refuses a body longer than what is left of the upload with 413, keeping the upload", async () => {
    const server = await start()
    const url = await created(server, "long.txt", 4)
    const response = await patch(url, 0, Buffer.from("hello"))
    expect(response.status).toBe(413)
    expect((await head(url)).headers.get("upload-offset")).toBe("0")
  })

  it("checks Upload-Checksum: 460 on a mismatch (nothing stored), 204 on a match, 400 for an unknown algorithm", async () => {
    const server = await start()
    const url = await created(server, "sum.txt", 5)
    const bytes = Buffer.from("hello")
    const sha1 = createHash("sha1").update(bytes).digest("base64")
    const mismatch = await patch(url, 0, bytes, { "Upload-Checksum": `sha1 ${createHash("sha1").update("other").digest("base64")}` })
    expect(mismatch.status).toBe(460)
    expect(await errorCode(mismatch)).toBe("checksum_mismatch")
    expect((await head(url)).headers.get("upload-offset")).toBe("0")
    expect((await patch(url, 0, bytes, { "Upload-Checksum": "md5 XUFAKrxLKna5cZ2REBfFkg==" })).status).toBe(400)
    const matched = await patch(url, 0, bytes, { "Upload-Checksum": `sha1 ${sha1}` })
    expect(matched.status).toBe(204)
    expect(matched.headers.get("upload-offset")).toBe("5")
  })

  it("refuses a whole file whose bytes do not hash to the sha256 in Upload-Metadata with 460, and keeps nothing", async () => {
    const server = await start()
    const expected = createHash("sha256").update("other").digest("hex")
    const url = await created(server, "digest.txt", 5, {
      "Upload-Metadata": `${metadata("digest.txt")},sha256 ${Buffer.from(expected).toString("base64")}`
    })
    const response = await patch(url, 0, Buffer.from("hello"))
    expect(response.status).toBe(460)
    expect(await fs.readdir(server.directory)).toEqual([])
  })

  it("stores the body of a creation-with-upload POST and says where it is", async () => {
    const server = await start()
    const response = await fetch(collection(server), {
      method: "POST",
      headers: { ...TUS, "Upload-Length": "11", "Upload-Metadata": metadata("first.txt"), "Content-Type": "application/offset+octet-stream" },
      body: Buffer.from("hello ")
    })
    expect(response.status).toBe(201)
    expect(response.headers.get("upload-offset")).toBe("6")
    expect(response.headers.get("upload-expires")).toMatch(/GMT$/)
    const url = response.headers.get("location")!
    const last = await patch(url, 6, Buffer.from("world"))
    expect(last.headers.get("file-receiver-stored-name")).toBe("first.txt")
    expect(last.headers.get("repr-digest")).toBe(`sha-256=:${createHash("sha256").update("hello world").digest("base64")}:`)
  })

  it("answers HEAD on a completed upload with its final state, however often it is asked", async () => {
    const server = await start()
    const url = await created(server, "done.txt", 5)
    await patch(url, 0, Buffer.from("hello"))
    for (let i = 0; i < 2; i++) {
      const status = await head(url)
      expect(status.status).toBe(200)
      expect(status.headers.get("upload-offset")).toBe("5")
      expect(status.headers.get("upload-length")).toBe("5")
      expect(status.headers.get("cache-control")).toBe("no-store")
      expect(status.headers.get("file-receiver-stored-name")).toBe("done.txt")
    }
    // A PATCH that repeats the last one's end changes nothing.
    expect((await patch(url, 5, Buffer.alloc(0))).status).toBe(204)
    expect(await fs.readdir(server.directory)).toEqual(expect.arrayContaining(["done.txt"]))
    expect((await fs.readdir(server.directory)).filter((name) => name.startsWith("done"))).toEqual(["done.txt"])
  })

  it("counts its uploads in the same metrics as WebSocket ones, with transport=\"http\"", async () => {
    const server = await start()
    const url = await created(server, "metered.txt", 5)
    await patch(url, 0, Buffer.from("hello"))
    const metrics = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text()
    expect(metrics).toMatch(/^file_receiver_uploads_completed_total\{transport="http"\} [1-9]/m)
    expect(metrics).toMatch(/^file_receiver_bytes_received_total\{transport="http"\} ([5-9]|\d\d)/m)
  })

  it("cancels an upload on DELETE: 204, then 404, and its partial data is gone", async () => {
    const server = await start()
    const url = await created(server, "gone.txt", 10)
    await patch(url, 0, Buffer.from("hello"))
    const deleted = await fetch(url, { method: "DELETE", headers: TUS })
    expect(deleted.status).toBe(204)
    expect((await head(url)).status).toBe(404)
    expect((await fs.readdir(server.directory)).filter((name) => name.endsWith(".part"))).toEqual([])
  })

  it("speaks the IETF draft: Upload-Complete on creation, HEAD and append", async () => {
    const server = await start()
    const ietf = { "Upload-Draft-Interop-Version": "6" }
    const response = await fetch(collection(server), {
      method: "POST",
      headers: { ...ietf, "Upload-Complete": "?0", "Upload-Length": "10", "Upload-Metadata": metadata("draft.txt") },
      body: Buffer.from("hello")
    })
    expect(response.status).toBe(201)
    expect(response.headers.get("upload-complete")).toBe("?0")
    const url = response.headers.get("location")!
    const status = await head(url, ietf)
    expect(status.status).toBe(204)
    expect(status.headers.get("upload-offset")).toBe("5")
    const appended = await fetch(url, {
      method: "PATCH",
      headers: { ...ietf, "Upload-Complete": "?1", "Upload-Offset": "5", "Content-Type": "application/partial-upload" },
      body: Buffer.from("world")
    })
    expect(appended.status).toBe(204)
    expect(appended.headers.get("upload-complete")).toBe("?1")
    expect(await fs.readFile(path.join(server.directory, "draft.txt"), "utf8")).toBe("helloworld")
  })

  it("counts each request as one message of the client's rate limit, and answers 429 with Retry-After", async () => {
    const server = await start({ RATE_LIMIT_PER_PERIOD: "3", RATE_LIMIT_PERIOD: "60", MAX_CHUNK_BYTES: "1024" })
    // One request whose body is 40 frames of the session: one message, not 40.
    const url = await created(server, "limited.txt", 40 * 1024 + 2)
    expect((await patch(url, 0, sampleText(40 * 1024))).status).toBe(204)
    expect((await patch(url, 40 * 1024, Buffer.from("x"))).status).toBe(204)
    // The fourth request in the window.
    const refused = await patch(url, 40 * 1024 + 1, Buffer.from("y"))
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0)
    expect(await errorCode(refused)).toBe("rate_limited")
  })

  it("answers CORS preflights for ALLOWED_ORIGINS and exposes the tus headers; refuses other origins with 403", async () => {
    const server = await start({ ALLOWED_ORIGINS: "https://app.example" })
    const preflight = await fetch(collection(server), {
      method: "OPTIONS",
      headers: { Origin: "https://app.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "upload-length,tus-resumable" }
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://app.example")
    expect(preflight.headers.get("access-control-allow-headers")).toContain("Upload-Length")
    const allowed = await create(server, "cors.txt", 5, { Origin: "https://app.example" })
    expect(allowed.headers.get("access-control-expose-headers")).toContain("Upload-Offset")
    expect(allowed.headers.get("access-control-expose-headers")).toContain("Location")
    expect((await create(server, "cors.txt", 5, { Origin: "https://evil.example" })).status).toBe(403)
  })

  it("asks for a bearer token when AUTH_TOKENS is set, and hides one identity's uploads from another", async () => {
    const alice = "alice-token-0123456789"
    const bob = "bob-token-0123456789ab"
    const server = await start({ AUTH_TOKENS: `alice:${alice},bob:${bob}` })
    expect((await create(server, "secret.txt", 5)).status).toBe(401)
    const url = await created(server, "secret.txt", 5, { Authorization: `Bearer ${alice}` })
    expect((await head(url, { ...TUS, Authorization: `Bearer ${bob}` })).status).toBe(404)
    expect((await patch(url, 0, Buffer.from("hello"), { Authorization: `Bearer ${bob}` })).status).toBe(404)
    expect((await patch(url, 0, Buffer.from("hello"), { Authorization: `Bearer ${alice}` })).status).toBe(204)
  })

  it("checks a PATCH's Upload-Offset in its turn: one that was right before another request appended gets 409", async () => {
    const server = await start()
    const url = await created(server, "turns.txt", 200)
    const headers = { ...TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream" }
    const first = trickle(url, "PATCH", headers, [Buffer.alloc(50, "A"), Buffer.alloc(50, "A")], 500)
    await new Promise((resolve) => setTimeout(resolve, 200))
    const second = await patch(url, 0, Buffer.alloc(100, "B"))
    expect(await first).toBe(204)
    expect(second.status).toBe(409)
    expect((await head(url)).headers.get("upload-offset")).toBe("100")
  })

  it("takes a checksummed body that arrives slowly (it is read in the request's turn, so the upload stays open)", async () => {
    const server = await start()
    const url = await created(server, "slow.txt", 100)
    const bytes = sampleText(100)
    const sha1 = createHash("sha1").update(bytes).digest("base64")
    const pieces = [0, 20, 40, 60, 80].map((at) => bytes.subarray(at, at + 20))
    const status = await trickle(url, "PATCH", {
      ...TUS,
      "Upload-Offset": "0",
      "Content-Type": "application/offset+octet-stream",
      "Upload-Checksum": `sha1 ${sha1}`
    }, pieces, 700)
    expect(status).toBe(204)
    expect(await fs.readFile(path.join(server.directory, "slow.txt"))).toEqual(bytes)
  })

  it("refuses a creation-with-upload whose body would be refused before the upload exists", async () => {
    const server = await start()
    const response = await fetch(collection(server), {
      method: "POST",
      headers: { ...TUS, "Upload-Length": "5", "Upload-Metadata": metadata("typed.txt"), "Content-Type": "text/plain" },
      body: Buffer.from("hello")
    })
    expect(response.status).toBe(415)
    expect(response.headers.get("location")).toBeNull()
    expect(await fs.readdir(server.directory)).toEqual([])
  })

  it("forgets an upload the session discarded: the next HEAD is 404 at once", async () => {
    const server = await start()
    const wrong = createHash("sha256").update("other").digest("hex")
    const url = await created(server, "gone.txt", 5, { "Upload-Metadata": `${metadata("gone.txt")},sha256 ${Buffer.from(wrong).toString("base64")}` })
    expect((await patch(url, 0, Buffer.from("hello"))).status).toBe(460)
    expect((await head(url)).status).toBe(404)
  })

  it("still cuts off a slow request body outside /files/ after HANDSHAKE_TIMEOUT", async () => {
    const server = await start({ HANDSHAKE_TIMEOUT: "1" })
    const began = Date.now()
    const socket = net.connect(server.port, "127.0.0.1")
    socket.on("data", () => undefined)
    socket.write("POST /ws/file-transfer/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nx")
    const trickling = setInterval(() => socket.write("x"), 300)
    const closedAfter = await new Promise<number>((resolve) => {
      socket.on("close", () => resolve(Date.now() - began))
      setTimeout(() => resolve(Infinity), 8_000).unref()
    })
    clearInterval(trickling)
    socket.destroy()
    expect(closedAfter).toBeLessThan(5_000)
  })

  it("cuts off a body that stalls, and keeps the bytes received until then", async () => {
    const server = await start({ UPLOAD_STALL_TIMEOUT: "1" })
    const url = new URL(await created(server, "stall.txt", 100_000))
    const closed = await new Promise<number>((resolve, reject) => {
      const request = http.request({
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "PATCH",
        headers: { ...TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream", "Content-Length": "100000" }
      })
      const began = Date.now()
      request.on("error", () => resolve(Date.now() - began))
      request.on("response", (response) => {
        response.resume()
        response.on("close", () => resolve(Date.now() - began))
      })
      request.on("close", () => resolve(Date.now() - began))
      // 30,000 bytes, then nothing.
      request.write(sampleText(30_000))
      setTimeout(() => reject(new Error("not cut off")), 10_000).unref()
    })
    expect(closed).toBeGreaterThanOrEqual(900)
    expect((await head(url.href)).headers.get("upload-offset")).toBe("30000")
  })
})
