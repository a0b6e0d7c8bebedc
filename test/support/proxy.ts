/**
 * A TCP proxy in front of a test server that can cut every connection through
 * it at once: a dropped link, as a client sees it, without touching the server.
 */
import * as net from "node:net"

export interface DroppingProxy {
  readonly port: number
  /** Destroys every open connection (both sides); new connections still work. */
  readonly dropAll: () => void
  /** Cuts, once, the first connection whose client has sent more than `bytes` through the proxy. */
  readonly cutAfter: (bytes: number) => void
  /** Connections accepted so far. */
  readonly connections: () => number
  readonly close: () => Promise<void>
}

export const startProxy = (targetPort: number): Promise<DroppingProxy> =>
  new Promise((resolve) => {
    const open = new Set<net.Socket>()
    let accepted = 0
    let cutAt: number | undefined
    const server = net.createServer((client) => {
      accepted++
      let sent = 0
      const upstream = net.connect(targetPort, "127.0.0.1")
      open.add(client).add(upstream)
      const forget = () => {
        open.delete(client)
        open.delete(upstream)
        client.destroy()
        upstream.destroy()
      }
      client.on("error", forget).on("close", forget)
      upstream.on("error", forget).on("close", forget)
      client.on("data", (data: Buffer) => {
        sent += data.length
        if (cutAt !== undefined && sent > cutAt) {
          cutAt = undefined
          forget()
        }
      })
      client.pipe(upstream)
      upstream.pipe(client)
    })
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        dropAll: () => {
          for (const socket of open) socket.destroy()
          open.clear()
        },
        cutAfter: (bytes) => void (cutAt = bytes),
        connections: () => accepted,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of open) socket.destroy()
            server.close(() => done())
          })
      }))
  })
