/**
 * Content and disk checks against the real server over real WebSockets:
 * mislabelled files are refused and leave nothing behind, real files pass in
 * any chunking and across a resume, and a disk that really fills up (a tiny
 * tmpfs) gives the client a clear error while the server stays up.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { DISK_FULL } from "../../src/application/uploads/Uploads.js"
import { ELF_HEAD, PNG_HEAD, withHead } from "../support/content.js"
import { chunk, connect, eventually, listDirectory, meta, type RunningServer, sampleText, sha256, startServer, upload, visibleFiles } from "../support/server.js"
import { mountTmpfs } from "../support/tmpfs.js"

const MISMATCH_PNG = "File content does not match its extension .png; upload discarded"

describe("content check", () => {
  let server: RunningServer
  beforeAll(async () => {
    server = await startServer({ RATE_LIMIT_PER_PERIOD: "100000" })
  })
  afterAll(() => server.stop())

  it("an executable named photo.png is refused and nothing of it stays on disk", async () => {
    const client = await connect(server.url)
    const reply = await upload(client, "photo.png", withHead(ELF_HEAD, 100_000), 16 * 1024)
    expect(reply).toEqual({ type: "error", message: MISMATCH_PNG, code: "content_mismatch" })
    await eventually(async () => expect(await listDirectory(server.directory)).toEqual([]))
    client.close()
  })

  it("a PNG sent in 1-byte binary frames, without waiting, is judged on its head and stored intact", async () => {
    const client = await connect(server.url)
    const png = withHead(PNG_HEAD, 6000)
    client.send(meta("tiny-chunks.png", png.length))
    expect((await client.next()).type).toBe("meta_received")
    for (let offset = 0; offset < 4200; offset++) client.sendRaw(png.subarray(offset, offset + 1), true)
    client.sendRaw(png.subarray(4200), true)
    let last = await client.next()
    while (last.type === "chunk_received") last = await client.next()
    expect(last).toMatchObject({ type: "file_received", sha256: sha256(png) })
    client.close()
  }, 30_000)

  for (const binary of [true, false]) {
    it(`a UTF-8 text whose characters are split across 64 KiB chunks is accepted and stored intact (${binary ? "binary frames" : "base64"})`, async () => {
      // The store frees each chunk once written: the text check must not keep a view of a chunk's tail.
      const client = await connect(server.url)
      const content = Buffer.from("a".repeat(64 * 1024 - 1) + "é".repeat(40_000), "utf8")
      client.send(meta(`split-${binary ? "binary" : "base64"}.txt`, content.length))
      expect((await client.next()).type).toBe("meta_received")
      let last
      for (let offset = 0; offset < content.length; offset += 64 * 1024) {
        const part = Buffer.from(content.subarray(offset, offset + 64 * 1024))
        if (binary) client.sendRaw(part, true)
        else client.send(chunk(part))
        last = await client.next()
      }
      expect(last).toMatchObject({ type: "file_received", sha256: sha256(content) })
      client.close()
    })
  }

  it("a resumed PNG is checked with the bytes held from before and stored intact", async () => {
    const png = withHead(PNG_HEAD, 50_000)
    const first = await connect(server.url)
    first.send(meta("resumed.png", png.length))
    const { upload_id } = await first.next()
    first.send(chunk(png.subarray(0, 1000)))
    expect((await first.next()).received).toBe(1000)
    first.socket.terminate()
    const second = await connect(server.url)
    await eventually(async () => {
      second.send({ ...meta("resumed.png", png.length), upload_id })
      expect(await second.next()).toMatchObject({ type: "meta_received", offset: 1000 })
    })
    second.sendRaw(png.subarray(1000), true)
    expect(await second.next()).toMatchObject({ type: "file_received", sha256: sha256(png) })
    second.close()
  })

  it("with CONTENT_CHECK=off any bytes are stored, as by the original service", async () => {
    const unchecked = await startServer({ CONTENT_CHECK: "off" })
    try {
      const client = await connect(unchecked.url)
      expect(await upload(client, "photo.png", withHead(ELF_HEAD, 10_000))).toMatchObject({ type: "file_received" })
      client.close()
    } finally {
      await unchecked.stop()
    }
  })
})

describe("disk space (a 1 MiB tmpfs)", async () => {
  const tmpfs = await mountTmpfs(1024)

  it.skipIf(tmpfs === undefined)("refuses an upload that would leave less than MIN_FREE_DISK_MB free", async () => {
    const server = await startServer({ FILE_SAVE_DIRECTORY: tmpfs!.directory, MIN_FREE_DISK_MB: "1" })
    try {
      const client = await connect(server.url)
      client.send(meta("small.txt", 10))
      expect(await client.next()).toEqual({ type: "error", message: "Not enough free disk space on the server for 10 bytes; try again later", code: "insufficient_storage" })
      expect(await listDirectory(tmpfs!.directory)).toEqual([])
      client.close()
    } finally {
      await server.stop()
    }
  })

  it.skipIf(tmpfs === undefined)("a disk that fills up during an upload: the client is told, the partial file goes, the server stays up", async () => {
    const server = await startServer({ FILE_SAVE_DIRECTORY: tmpfs!.directory, MIN_FREE_DISK_MB: "0" })
    try {
      const client = await connect(server.url)
      const content = sampleText(600 * 1024)
      client.send(meta("victim.txt", content.length))
      expect((await client.next()).type).toBe("meta_received")
      // Something else takes the space after the upload was admitted.
      await fs.writeFile(path.join(tmpfs!.directory, "filler.bin"), Buffer.alloc(700 * 1024)).catch(() => undefined)
      let last = { type: "chunk_received", message: "" } as { type: string; message: string }
      for (let offset = 0; offset < content.length && last.type === "chunk_received"; offset += 64 * 1024) {
        client.send(chunk(content.subarray(offset, offset + 64 * 1024)))
        last = await client.next()
      }
      expect(last).toEqual({ type: "error", message: DISK_FULL, code: "disk_full" })
      await eventually(async () => expect(await listDirectory(tmpfs!.directory)).toEqual(["filler.bin"]))

      expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200)
      await fs.rm(path.join(tmpfs!.directory, "filler.bin"))
      expect(await upload(client, "after.txt", Buffer.from("still here"))).toMatchObject({ type: "file_received" })
      expect(await visibleFiles(tmpfs!.directory)).toEqual(["after.txt"])
      client.close()
    } finally {
      await server.stop()
    }
  })

  afterAll(() => tmpfs?.unmount())
})
