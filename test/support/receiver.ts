/**
 * A real HTTP receiver for webhook and hook tests: a node:http server on
 * port 0 that records every request and answers with `respond`.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

export interface Received {
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

export interface Answer {
  readonly status: number
  readonly body?: string
  /** Wait this long before answering. */
  readonly delayMillis?: number
}

export interface Receiver {
  readonly url: string
  readonly requests: Array<Received>
  /** Resolves once `count` requests have arrived. */
  readonly waitFor: (count: number, timeoutMillis?: number) => Promise<void>
  readonly close: () => Promise<void>
}

export const startReceiver = async (respond: (request: Received, index: number) => Answer): Promise<Receiver> => {
  const requests: Array<Received> = []
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const received = { headers: req.headers, body: Buffer.concat(chunks).toString("utf8") }
      requests.push(received)
      const answer = respond(received, requests.length - 1)
      setTimeout(() => {
        if (res.destroyed) return
        res.writeHead(answer.status, { "content-type": "text/plain" })
        res.end(answer.body ?? "")
      }, answer.delayMillis ?? 0)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/hook`,
    requests,
    waitFor: async (count, timeoutMillis = 10_000) => {
      const deadline = Date.now() + timeoutMillis
      while (requests.length < count) {
        if (Date.now() > deadline) throw new Error(`expected ${count} requests, got ${requests.length}`)
        await new Promise((r) => setTimeout(r, 20))
      }
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
