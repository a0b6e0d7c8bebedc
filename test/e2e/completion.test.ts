/**
 * A completed upload is reported the same way however often it is asked:
 * a client that lost its file_received resumes the upload and gets the same
 * answer, with nothing stored twice; on the real server, after a restart,
 * and on another instance sharing Redis.
 */
import { randomUUID } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { NodeWebSocket, upload as clientUpload } from "../../src/client/node.js"
import { start } from "../support/process.js"
import { startProxy } from "../support/proxy.js"
import { deleteKeys, redisAvailable, redisUrl } from "../support/redis.js"
import { connect, eventually, type Reply, type RunningServer, samplePdf, sha256, startServer, visibleFiles } from "../support/server.js"

/** Sends `content` in binary chunks without waiting and cuts the connection before any reply is read. */
const uploadAndVanish = async (url: string, name: string, content: Buffer): Promise<string> => {
  const client = await connect(url)
  client.send({ type: "file_meta", file_name: name, file_size: content.length })
  const meta = await client.next()
  for (let offset = 0; offset < content.length; offset += 64 * 1024) client.sendRaw(content.subarray(offset, offset + 64 * 1024), true)
  // The frames are written to the socket; end it without waiting for the file_received.
  await new Promise<void>((resolve) => client.socket.once("close", () => resolve()).close())
  return String(meta["upload_id"])
}

const resume = async (url: string, name: string, size: number, uploadId: string): Promise<Reply> => {
  const client = await connect(url)
  client.send({ type: "file_meta", file_name: name, file_size: size, upload_id: uploadId })
  const reply = await client.next()
  client.close()
  return reply
}

describe("a lost file_received", () => {
  let server: RunningServer
  beforeAll(async () => {
    server = await startServer()
  })
  afterAll(() => server.stop())

  it("a resume of the completed upload is answered with the same file_received, and the file is stored once", async () => {
    const content = samplePdf(300_000)
    const uploadId = await uploadAndVanish(server.url, "lost.pdf", content)
    await eventually(async () => expect(await visibleFiles(server.directory)).toEqual(["lost.pdf"]))
    const first = await resume(server.url, "lost.pdf", content.length, uploadId)
    expect(first).toEqual({
      type: "file_received",
      message: "File lost.pdf received successfully and file extension is `pdf`",
      extension: "pdf",
      sha256: sha256(content),
      stored_name: "lost.pdf"
    })
    expect(await resume(server.url, "lost.pdf", content.length, uploadId)).toEqual(first)
    expect(await visibleFiles(server.directory)).toEqual(["lost.pdf"])
    expect(sha256(await fs.readFile(path.join(server.directory, "lost.pdf")))).toBe(sha256(content))
  })

  it("the client library resolves with the stored file when the connection drops before file_received (no second copy)", async () => {
    const proxy = await startProxy(server.port)
    const content = samplePdf(200_000)
    const file = new Blob([new Uint8Array(content)])
    // The handshake, meta_received and every acknowledgement but the last reach the client; then the link dies.
    let dropped = false
    const result = await clientUpload(Object.assign(file, { name: "dropped.pdf" }), {
      url: `ws://127.0.0.1:${proxy.port}/ws/file-transfer/`,
      WebSocket: NodeWebSocket,
      chunkBytes: 50_000,
      window: 1,
      minDelay: 10,
      onProgress: (progress) => {
        if (!dropped && progress.bytes >= 150_000) {
          dropped = true
          proxy.stallAfter(0)
          setTimeout(() => {
            proxy.dropAll()
            proxy.release()
          }, 300)
        }
      }
    })
    await proxy.close()
    expect(result).toMatchObject({ storedName: "dropped.pdf", sha256: sha256(content), reconnects: 1 })
    expect((await visibleFiles(server.directory)).filter((name) => name.startsWith("dropped"))).toEqual(["dropped.pdf"])
  })
})

/** Uploads `content` as `name` to a server process on `directory`, lets it complete, then kills the process (SIGKILL). */
const completedThenKilled = async (directory: string, name: string, content: Buffer): Promise<string> => {
  const before = await start({ FILE_SAVE_DIRECTORY: directory })
  const uploadId = await uploadAndVanish(`ws://127.0.0.1:${before.port}/ws/file-transfer/`, name, content)
  await eventually(async () => expect(await visibleFiles(directory)).toEqual([name]))
  before.kill("SIGKILL")
  await before.exited
  return uploadId
}

describe("after a restart of the server process", () => {
  it("a resume of an upload completed before the restart gets its file_received", async () => {
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-completion-"))
    try {
      const content = samplePdf(100_000)
      const uploadId = await completedThenKilled(directory, "restart.pdf", content)
      const after = await start({ FILE_SAVE_DIRECTORY: directory })
      const reply = await resume(`ws://127.0.0.1:${after.port}/ws/file-transfer/`, "restart.pdf", content.length, uploadId)
      after.kill("SIGTERM")
      await after.exited
      expect(reply).toMatchObject({ type: "file_received", sha256: sha256(content), extension: "pdf" })
      expect(await visibleFiles(directory)).toEqual(["restart.pdf"])
    } finally {
      await fs.rm(directory, { recursive: true, force: true })
    }
  }, 30_000)
})

/** Resumes `uploadId` and reads replies up to its file_received (a meta_received comes first when the upload was still open). */
const resumeToEnd = async (url: string, name: string, size: number, uploadId: string): Promise<ReadonlyArray<Reply>> => {
  const client = await connect(url)
  client.send({ type: "file_meta", file_name: name, file_size: size, upload_id: uploadId })
  const replies = [await client.next()]
  if (replies[0]?.type === "meta_received") replies.push(await client.next())
  client.close()
  return replies
}

describe("a completion record cut short (a power cut during its write)", () => {
  it("after the restart, a resume finds the file under the partial's second link: the same file_received, stored once", async () => {
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-torn-"))
    try {
      const content = samplePdf(100_000)
      const uploadId = await completedThenKilled(directory, "torn.pdf", content)
      // What a power cut before the completion's fsync returned leaves: the completion's line torn, and the
      // partial name (removed only after that fsync) still a second link to the stored file.
      const sidecar = path.join(directory, `.${uploadId}.upload.json`)
      const [started, completed] = (await fs.readFile(sidecar, "utf8")).split("\n").filter((line) => line !== "")
      expect(JSON.parse(completed!)).toHaveProperty("completed")
      await fs.writeFile(sidecar, `${started}\n\n${completed!.slice(0, completed!.length - 20)}`)
      await fs.link(path.join(directory, "torn.pdf"), path.join(directory, `.${uploadId}.part`))
      const after = await start({ FILE_SAVE_DIRECTORY: directory })
      const url = `ws://127.0.0.1:${after.port}/ws/file-transfer/`
      // The upload reads as held whole and not recorded: it is reopened (meta_received at its full size) and
      // completed under the name it was published as.
      const first = await resumeToEnd(url, "torn.pdf", content.length, uploadId)
      const second = await resumeToEnd(url, "torn.pdf", content.length, uploadId)
      after.kill("SIGTERM")
      await after.exited
      expect(first.map((reply) => reply.type)).toEqual(["meta_received", "file_received"])
      expect(first[0]).toMatchObject({ offset: content.length })
      expect(first[1]).toMatchObject({ type: "file_received", stored_name: "torn.pdf", sha256: sha256(content) })
      expect(second).toEqual([first[1]])
      expect(await visibleFiles(directory)).toEqual(["torn.pdf"])
      expect((await fs.readdir(directory)).filter((name) => name.endsWith(".part"))).toEqual([])
    } finally {
      await fs.rm(directory, { recursive: true, force: true })
    }
  }, 30_000)
})

describe.skipIf(!redisAvailable)("on another instance sharing Redis", () => {
  it("a resume on the other instance gets the same file_received", async () => {
    const prefix = `file-receiver-completion-${randomUUID()}`
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-completion-"))
    const env = { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, RATE_LIMIT_KEY_PREFIX: prefix, FILE_SAVE_DIRECTORY: directory }
    const [a, b] = await Promise.all([start(env), start(env)])
    try {
      const content = samplePdf(100_000)
      const uploadId = await uploadAndVanish(`ws://127.0.0.1:${a!.port}/ws/file-transfer/`, "shared.pdf", content)
      await eventually(async () => expect(await visibleFiles(directory)).toEqual(["shared.pdf"]))
      const reply = await resume(`ws://127.0.0.1:${b!.port}/ws/file-transfer/`, "shared.pdf", content.length, uploadId)
      expect(reply).toMatchObject({ type: "file_received", sha256: sha256(content), message: expect.stringContaining("shared.pdf") })
      expect(await visibleFiles(directory)).toEqual(["shared.pdf"])
    } finally {
      for (const server of [a, b]) server!.kill("SIGTERM")
      await Promise.all([a!.exited, b!.exited])
      await deleteKeys(prefix)
      await fs.rm(directory, { recursive: true, force: true })
    }
  }, 30_000)
})
