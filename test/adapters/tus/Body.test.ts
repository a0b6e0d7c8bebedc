/**
 * A request body read in frames: real sockets, so a stall, a cut and the
 * frame sizes are Node's own.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { Effect } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import * as Body from "../../../src/adapters/tus/Body.js"

const servers: Array<http.Server> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))))
})

/** A server handing its first request to `handle`, and a client request to it whose body the test writes. */
const exchange = async (handle: (request: http.IncomingMessage) => Promise<void>) => {
  const server = http.createServer((request, response) => {
    void handle(request).finally(() => {
      if (!response.destroyed) response.end()
    })
  })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  const client = http.request({ host: "127.0.0.1", port, method: "PATCH", path: "/", headers: { "Content-Length": "100000" } })
  client.on("error", () => undefined)
  return { client }
}

const next = (body: Body.Body) => Effect.runPromise(body.next)

describe("a request body read in frames", () => {
  it("gives the bytes sent before a stall as a last frame, and cuts the client off only once that frame was handled", async () => {
    let cutBeforeHandled: boolean | undefined
    let cutAfter: boolean | undefined
    const handled = new Promise<ReadonlyArray<Body.Piece>>((resolve) => {
      void exchange(async (request) => {
        const body = Body.reader(request, 64 * 1024, 300)
        const first = await next(body)
        // The frame is being stored: the client must still be connected, whatever time that takes.
        await new Promise((wait) => setTimeout(wait, 500))
        cutBeforeHandled = request.destroyed
        const second = await next(body)
        cutAfter = request.destroyed
        resolve([first, second])
      }).then(({ client }) => client.write(Buffer.alloc(30_000, 7)))
    })
    const [first, second] = await handled
    expect(first?._tag === "Bytes" ? first.bytes.length : first).toBe(30_000)
    expect(second).toEqual({ _tag: "End", reason: "Stalled" })
    expect(cutBeforeHandled).toBe(false)
    expect(cutAfter).toBe(true)
  })

  it("reads a whole body in frames of at most the frame size", async () => {
    const sizes: Array<number> = []
    const done = new Promise<Body.Piece>((resolve) => {
      void exchange(async (request) => {
        const body = Body.reader(request, 16 * 1024, 5_000)
        while (true) {
          const piece = await next(body)
          if (piece._tag === "End") return resolve(piece)
          sizes.push(piece.bytes.length)
        }
      }).then(({ client }) => client.end(Buffer.alloc(100_000, 1)))
    })
    expect(await done).toEqual({ _tag: "End", reason: "Complete" })
    expect(sizes.reduce((sum, size) => sum + size, 0)).toBe(100_000)
    expect(Math.max(...sizes)).toBeLessThanOrEqual(16 * 1024)
  })
})
