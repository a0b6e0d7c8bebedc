/** End to end: STORAGE picks the store; with `memory` nothing reaches the save directory. */
import { describe, expect, it } from "vitest"
import { connect, listDirectory, startServer, upload } from "../support/server.js"

describe("STORAGE=memory", () => {
  it("receives a file without writing anything to the save directory, and is ready", async () => {
    const server = await startServer({ STORAGE: "memory", UPLOAD_REGISTRY: "memory" })
    try {
      const client = await connect(server.url)
      const reply = await upload(client, "kept.txt", new TextEncoder().encode("in memory only"))
      expect(reply).toMatchObject({ type: "file_received", message: "File kept.txt received successfully and file extension is `txt`" })
      client.close()
      expect(await listDirectory(server.directory)).toEqual([])
      const ready = await fetch(`http://127.0.0.1:${server.port}/readyz`)
      expect(ready.status).toBe(200)
    } finally {
      await server.stop()
    }
  })
})
