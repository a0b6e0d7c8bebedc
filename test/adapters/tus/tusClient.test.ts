/**
 * The HTTP endpoint driven by tus-js-client 4, the client Uppy and most tus
 * integrations use, in its three protocols: tus 1.0 and the IETF draft
 * (interop versions 5 and 6). Against the real server, on a real save
 * directory.
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import * as tus from "tus-js-client"
import { afterEach, describe, expect, it } from "vitest"
import { connect, meta, type RunningServer, samplePdf, sha256, startServer } from "../../support/server.js"

type Protocol = "tus-v1" | "ietf-draft-03" | "ietf-draft-05"
const PROTOCOLS: ReadonlyArray<Protocol> = ["tus-v1", "ietf-draft-03", "ietf-draft-05"]

const servers: Array<RunningServer> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()))
})

const start = async (env: Record<string, string> = {}) => {
  const server = await startServer({ FILE_MAX_SIZE: "64", ...env })
  servers.push(server)
  return server
}

const endpointOf = (server: RunningServer) => `http://127.0.0.1:${server.port}/files/`

interface Uploaded {
  readonly url: string
  /** The offsets tus-js-client reported, in order. */
  readonly progress: ReadonlyArray<number>
}

/** Uploads `bytes` as `name` with tus-js-client; `stopAt` aborts once that many bytes are confirmed. */
const send = (
  endpoint: string,
  name: string,
  bytes: Buffer,
  // `protocol` is in tus-js-client 4's options, not in its type definitions.
  options: Partial<tus.UploadOptions> & { readonly protocol?: Protocol; readonly stopAt?: number } = {}
): Promise<Uploaded> =>
  new Promise((resolve, reject) => {
    const progress: Array<number> = []
    const { stopAt, ...rest } = options
    const upload: tus.Upload = new tus.Upload(bytes, <tus.UploadOptions> {
      endpoint,
      metadata: { filename: name, filetype: "application/pdf" },
      retryDelays: [],
      ...rest,
      onChunkComplete: (_size, accepted) => {
        progress.push(accepted)
        if (stopAt !== undefined && accepted >= stopAt) {
          void upload.abort().then(() => resolve({ url: upload.url ?? "", progress }))
        }
      },
      onSuccess: () => resolve({ url: upload.url ?? "", progress }),
      onError: reject
    })
    upload.start()
  })

const stored = async (server: RunningServer, name: string) => fs.readFile(path.join(server.directory, name))

/** HEAD of an upload URL as tus asks it. */
const head = (url: string) => fetch(url, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0" } })

describe.each(PROTOCOLS)("tus-js-client (%s)", (protocol) => {
  it("uploads a file in several chunks, and the stored bytes and digest are the client's", async () => {
    const server = await start()
    const bytes = samplePdf(700_000)
    const { progress, url } = await send(endpointOf(server), "chunks.pdf", bytes, { protocol, chunkSize: 128 * 1024 })
    expect(progress.length).toBeGreaterThanOrEqual(6)
    expect(sha256(await stored(server, "chunks.pdf"))).toBe(sha256(bytes))
    const status = await head(url)
    expect(status.headers.get("upload-offset")).toBe(String(bytes.length))
    expect(status.headers.get("file-receiver-sha256")).toBe(sha256(bytes))
    expect(status.headers.get("file-receiver-stored-name")).toBe("chunks.pdf")
  })

  it("uploads a file in one PATCH", async () => {
    const server = await start()
    const bytes = samplePdf(3 * 1024 * 1024 + 17)
    const { progress } = await send(endpointOf(server), "whole.pdf", bytes, { protocol })
    expect(progress).toEqual([bytes.length])
    expect(sha256(await stored(server, "whole.pdf"))).toBe(sha256(bytes))
  })

  it("resumes after abort() from what the server holds", async () => {
    const server = await start()
    const bytes = samplePdf(1_000_000)
    const first = await send(endpointOf(server), "aborted.pdf", bytes, { protocol, chunkSize: 100_000, stopAt: 300_000 })
    const held = Number((await head(first.url)).headers.get("upload-offset"))
    expect(held).toBeGreaterThanOrEqual(300_000)
    const second = await send(endpointOf(server), "aborted.pdf", bytes, { protocol, chunkSize: 100_000, uploadUrl: first.url })
    // The resume sent only what was missing.
    expect(second.progress[0]).toBe(held + 100_000)
    expect(sha256(await stored(server, "aborted.pdf"))).toBe(sha256(bytes))
    await expect(fs.stat(path.join(server.directory, "aborted_1.pdf"))).rejects.toThrow()
  })

  it("resumes after a server restart on the same directory", async () => {
    // A directory of the test's own: a server started without one removes its directory when it stops.
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-tus-"))
    const first = await start({ FILE_SAVE_DIRECTORY: directory })
    const bytes = samplePdf(800_000)
    const started = await send(endpointOf(first), "restart.pdf", bytes, { protocol, chunkSize: 200_000, stopAt: 400_000 })
    const port = String(first.port)
    await first.stop()
    servers.splice(servers.indexOf(first), 1)
    const second = await start({ PORT: port, FILE_SAVE_DIRECTORY: directory })
    try {
      const resumed = await send(endpointOf(second), "restart.pdf", bytes, { protocol, chunkSize: 200_000, uploadUrl: started.url })
      expect(resumed.progress[0]).toBe(600_000)
      expect(sha256(await stored(second, "restart.pdf"))).toBe(sha256(bytes))
    } finally {
      await fs.rm(directory, { recursive: true, force: true })
    }
  })

  it("finishes an upload started over WebSocket, with the same stored name and digest", async () => {
    const server = await start()
    const bytes = samplePdf(500_000)
    const client = await connect(server.url)
    client.send(meta("both.pdf", bytes.length))
    const opened = await client.next()
    const uploadId = String(opened["upload_id"])
    client.sendRaw(bytes.subarray(0, 200_000), true)
    expect((await client.next())["received"]).toBe(200_000)
    client.close()
    await client.closed
    const url = `${endpointOf(server)}${uploadId}`
    const resumed = await send(endpointOf(server), "both.pdf", bytes, { protocol, uploadUrl: url })
    expect(resumed.progress).toEqual([bytes.length])
    expect(sha256(await stored(server, "both.pdf"))).toBe(sha256(bytes))
    // Asked again over WebSocket: the same file_received, nothing stored twice.
    const again = await connect(server.url)
    again.send({ ...meta("both.pdf", bytes.length), upload_id: uploadId })
    const reply = await again.next()
    again.close()
    expect(reply).toMatchObject({ type: "file_received", stored_name: "both.pdf", sha256: sha256(bytes) })
  })
})
