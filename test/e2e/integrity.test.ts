/**
 * INTEGRITY=requested on the real server, as each client meets it: over the
 * WebSocket protocol an upload that declares no digest gets a file_received
 * without `sha256` and one that declares it is checked; over HTTP,
 * tus-js-client's completion carries `File-Receiver-Sha256` and
 * `Repr-Digest` only for a file it gave a `sha256` for, resumed or not; the
 * client library's result has no sha256 for a stream it hashed on the way.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Readable } from "node:stream"
import * as tus from "tus-js-client"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fromStream, NodeWebSocket, upload, uploadFile } from "../../src/client/node.js"
import { sampleFor } from "../support/content.js"
import { scratchDirectory } from "../support/scratch.js"
import { chunk, connect, meta, type RunningServer, sha256, startServer } from "../support/server.js"

let server: RunningServer

beforeAll(async () => {
  server = await startServer({ INTEGRITY: "requested" })
})
afterAll(() => server.stop())

const writeScratch = scratchDirectory("fr-integrity-").write

/** Uploads `bytes` as `name` with tus-js-client (tus 1.0), `metadata` added; the completing HEAD's headers. */
const overTus = async (name: string, bytes: Buffer, metadata: Record<string, string> = {}): Promise<Headers> => {
  const url = await new Promise<string>((resolve, reject) => {
    const sending: tus.Upload = new tus.Upload(bytes, {
      endpoint: `http://127.0.0.1:${server.port}/files/`,
      metadata: { filename: name, filetype: "application/pdf", ...metadata },
      retryDelays: [],
      onSuccess: () => resolve(sending.url ?? ""),
      onError: reject
    })
    sending.start()
  })
  const response = await fetch(url, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0" } })
  expect(response.status).toBe(200)
  return response.headers
}

describe("INTEGRITY=requested", () => {
  it("over WebSockets, a file sent without a digest is stored whole and file_received carries no sha256", async () => {
    const bytes = sampleFor("plain.pdf", 300_000)
    const client = await connect(server.url)
    client.send(meta("plain.pdf", bytes.length))
    expect((await client.next()).type).toBe("meta_received")
    client.send(chunk(bytes.subarray(0, 200_000)))
    expect((await client.next()).type).toBe("chunk_received")
    client.send(chunk(bytes.subarray(200_000)))
    const done = await client.next()
    client.close()
    expect(done).toMatchObject({ type: "file_received", extension: "pdf", stored_name: "plain.pdf" })
    expect(done).not.toHaveProperty("sha256")
    expect(sha256(await fs.readFile(path.join(server.directory, "plain.pdf")))).toBe(sha256(bytes))
  })

  it("over WebSockets, a declared digest is checked: the right one is confirmed, a wrong one refused", async () => {
    const bytes = sampleFor("checked.pdf", 100_000)
    const client = await connect(server.url)
    client.send({ ...meta("checked.pdf", bytes.length), sha256: sha256(bytes) })
    expect((await client.next()).type).toBe("meta_received")
    client.send(chunk(bytes))
    expect(await client.next()).toMatchObject({ type: "file_received", sha256: sha256(bytes) })
    client.send({ ...meta("wrong.pdf", bytes.length), sha256: "0".repeat(64) })
    expect((await client.next()).type).toBe("meta_received")
    client.send(chunk(bytes))
    expect(await client.next()).toMatchObject({ type: "error", code: "checksum_mismatch" })
    client.close()
  })

  it("over HTTP, the completion carries the digest headers only for a file given a sha256", async () => {
    const bytes = sampleFor("tus.pdf", 200_000)
    const unhashed = await overTus("tus.pdf", bytes)
    expect(unhashed.get("File-Receiver-Stored-Name")).toBe("tus.pdf")
    expect(unhashed.get("File-Receiver-Sha256")).toBeNull()
    expect(unhashed.get("Repr-Digest")).toBeNull()
    const hashed = await overTus("tus-checked.pdf", bytes, { sha256: sha256(bytes) })
    expect(hashed.get("File-Receiver-Sha256")).toBe(sha256(bytes))
    expect(hashed.get("Repr-Digest")).toBe(`sha-256=:${Buffer.from(sha256(bytes), "hex").toString("base64")}:`)
  })

  it("over HTTP, an upload created with a sha256 and resumed by a new client is still checked over every byte", async () => {
    const bytes = sampleFor("resumed.pdf", 300_000)
    const created = await fetch(`http://127.0.0.1:${server.port}/files/`, {
      method: "POST",
      headers: {
        "Tus-Resumable": "1.0.0",
        "Upload-Length": String(bytes.length),
        "Upload-Metadata": `filename ${Buffer.from("resumed.pdf").toString("base64")},sha256 ${Buffer.from(sha256(bytes)).toString("base64")}`
      }
    })
    expect(created.status).toBe(201)
    const location = created.headers.get("Location") ?? ""
    const first = await fetch(location, {
      method: "PATCH",
      headers: { "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream" },
      body: new Uint8Array(bytes.subarray(0, 100_000))
    })
    expect(first.headers.get("Upload-Offset")).toBe("100000")
    // tus-js-client picks the upload up where it is, and sends no metadata when it resumes.
    await new Promise<void>((resolve, reject) => {
      new tus.Upload(bytes, { uploadUrl: location, retryDelays: [], onSuccess: () => resolve(), onError: reject }).start()
    })
    const done = await fetch(location, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0" } })
    expect(done.headers.get("File-Receiver-Sha256")).toBe(sha256(bytes))
  })

  it("the client library: a file hashed first is checked by the server; a stream hashed on the way comes back with no sha256", async () => {
    const bytes = sampleFor("lib.pdf", 150_000)
    const file = await writeScratch("lib.pdf", bytes)
    expect((await uploadFile(file, { url: server.url, sha256: true })).sha256).toBe(sha256(bytes))
    const streamed = await upload(fromStream(Readable.from([bytes]), "streamed.pdf", bytes.length), {
      url: server.url,
      WebSocket: NodeWebSocket,
      sha256: true
    })
    expect(streamed.storedName).toBe("streamed.pdf")
    expect(streamed.sha256).toBeUndefined()
    expect(sha256(await fs.readFile(path.join(server.directory, "streamed.pdf")))).toBe(sha256(bytes))
  })
})
