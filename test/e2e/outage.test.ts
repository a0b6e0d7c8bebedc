/**
 * A storage outage suspends the upload instead of throwing it away: the
 * real server on a real filesystem made unwritable (an immutable partial
 * file, a read-only remount), then writable again. The client is told
 * `storage_unavailable`, the upload keeps what the store holds, and it
 * resumes from there, by hand and through the client library.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { NodeWebSocket, upload as clientUpload, type ReconnectInfo } from "../../src/client/node.js"
import { faultsAvailable, remountableDirectory, setImmutable } from "../support/faults.js"
import { connect, type RunningServer, samplePdf, sha256, startServer, visibleFiles } from "../support/server.js"

const CHUNK = 64 * 1024

describe.skipIf(!faultsAvailable)("a storage outage", () => {
  let server: RunningServer
  let mount: Awaited<ReturnType<typeof remountableDirectory>>
  beforeAll(async () => {
    mount = await remountableDirectory()
    server = await startServer({ FILE_SAVE_DIRECTORY: mount.directory, MIN_FREE_DISK_MB: "0" })
  })
  afterAll(async () => {
    await server.stop()
    await mount.release()
  })

  const partialOf = (uploadId: string) => path.join(mount.directory, `.${uploadId}.part`)

  it("a chunk the store cannot write suspends the upload (storage_unavailable); once it can, the upload resumes where the store is", async () => {
    const content = samplePdf(4 * CHUNK)
    const client = await connect(server.url)
    client.send({ type: "file_meta", file_name: "outage.pdf", file_size: content.length })
    const uploadId = String((await client.next())["upload_id"])
    for (let index = 0; index < 2; index++) {
      client.sendRaw(content.subarray(index * CHUNK, (index + 1) * CHUNK), true)
      expect(await client.next()).toMatchObject({ type: "chunk_received", received: (index + 1) * CHUNK })
    }
    setImmutable(partialOf(uploadId), true)
    try {
      client.sendRaw(content.subarray(2 * CHUNK, 3 * CHUNK), true)
      const refused = await client.next()
      expect(refused).toMatchObject({ type: "error", code: "storage_unavailable" })
      expect(String(refused.message)).toContain("kept")
      expect(String(refused.message)).not.toContain("discarded")
    } finally {
      setImmutable(partialOf(uploadId), false)
    }
    // The same connection goes on: it resumes the upload from what the store holds.
    client.send({ type: "file_meta", file_name: "outage.pdf", file_size: content.length, upload_id: uploadId })
    const resumed = await client.next()
    expect(resumed).toMatchObject({ type: "meta_received", upload_id: uploadId, offset: 2 * CHUNK })
    client.sendRaw(content.subarray(2 * CHUNK), true)
    expect(await client.next()).toMatchObject({ type: "file_received", sha256: sha256(content) })
    client.close()
    expect(sha256(await fs.readFile(path.join(mount.directory, "outage.pdf")))).toBe(sha256(content))
  })

  it("a resume while the save directory is read-only is answered storage_unavailable (not unknown), and succeeds once it is writable", async () => {
    const content = samplePdf(3 * CHUNK)
    const first = await connect(server.url)
    first.send({ type: "file_meta", file_name: "readonly.pdf", file_size: content.length })
    const uploadId = String((await first.next())["upload_id"])
    first.sendRaw(content.subarray(0, CHUNK), true)
    expect(await first.next()).toMatchObject({ received: CHUNK })
    await new Promise<void>((resolve) => first.socket.once("close", () => resolve()).close())
    // The partial file is closed once the server has seen the connection go.
    await expect.poll(() => {
      try {
        mount.setReadOnly(true)
        return true
      } catch {
        return false
      }
    }, { timeout: 5_000, interval: 50 }).toBe(true)
    const resume = { type: "file_meta", file_name: "readonly.pdf", file_size: content.length, upload_id: uploadId }
    const second = await connect(server.url)
    try {
      second.send(resume)
      expect(await second.next()).toMatchObject({ type: "error", code: "storage_unavailable" })
    } finally {
      mount.setReadOnly(false)
    }
    second.send(resume)
    expect(await second.next()).toMatchObject({ type: "meta_received", offset: CHUNK })
    second.sendRaw(content.subarray(CHUNK), true)
    expect(await second.next()).toMatchObject({ type: "file_received", sha256: sha256(content) })
    second.close()
  })

  it("the client library waits out the outage and finishes the upload, saying why it waited", async () => {
    const content = samplePdf(40 * CHUNK)
    const reconnects: Array<ReconnectInfo> = []
    let blocked: string | undefined
    const result = await clientUpload(Object.assign(new Blob([new Uint8Array(content)]), { name: "waited.pdf" }), {
      url: server.url,
      WebSocket: NodeWebSocket,
      chunkBytes: CHUNK,
      window: 1,
      minDelay: 100,
      maxDelay: 400,
      onProgress: (progress) => {
        if (blocked === undefined && progress.bytes >= 10 * CHUNK) {
          blocked = "pending"
          void fs.readdir(mount.directory).then((names) => {
            const name = names.find((entry) => entry.endsWith(".part"))
            if (name === undefined) return
            blocked = path.join(mount.directory, name)
            setImmutable(blocked, true)
            setTimeout(() => setImmutable(blocked!, false), 1_000)
          })
        }
      },
      onReconnect: (info) => void reconnects.push(info)
    })
    expect(result).toMatchObject({ storedName: "waited.pdf", sha256: sha256(content) })
    expect(reconnects.length).toBeGreaterThan(0)
    expect(reconnects.every((info) => info.cause === "storage_unavailable")).toBe(true)
    expect((await visibleFiles(mount.directory)).filter((name) => name.startsWith("waited"))).toEqual(["waited.pdf"])
  }, 30_000)
})
