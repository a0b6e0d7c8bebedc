/**
 * A TCP proxy in front of a test server that can cut or hold up the
 * connections through it: a dropped or stalled link, as a client sees it,
 * without touching the server.
 */
import * as net from "node:net"

export interface DroppingProxy {
  readonly port: number
  /** Destroys every open connection (both sides); new connections still work. */
  readonly dropAll: () => void
  /** Cuts, once, the first connection whose client has sent more than `bytes` through the proxy. */
  readonly cutAfter: (bytes: number) => void
  /** Holds back what the server sends beyond `bytes` on each connection (its replies), until `release()`. */
  readonly stallAfter: (bytes: number) => void
  /** Forwards what was held back, and stops holding. */
  readonly release: () => void
  /** While on, new connections are reset at once (a server that is down); open ones are cut too. */
  readonly refuse: (on: boolean) => void
  /** Connections accepted so far. */
  readonly connections: () => number
  readonly close: () => Promise<void>
}

export const startProxy = (targetPort: number): Promise<DroppingProxy> =>
  new Promise((resolve) => {
    const open = new Set<net.Socket>()
    const releases = new Set<() => void>()
    let accepted = 0
    let cutAt: number | undefined
    let stallAt: number | undefined
    let refusing = false
    const server = net.createServer((client) => {
      if (refusing) return client.resetAndDestroy()
      accepted++
      let sent = 0
      let answered = 0
      const held: Array<Buffer> = []
      const upstream = net.connect(targetPort, "127.0.0.1")
      open.add(client).add(upstream)
      const release = () => {
        for (const data of held.splice(0)) client.write(data)
      }
      releases.add(release)
      const forget = () => {
        open.delete(client)
        open.delete(upstream)
        releases.delete(release)
        client.destroy()
        upstream.destroy()
      }
      client.on("error", forget).on("close", forget)
      upstream.on("error", forget).on("close", forget)
      client.on("data", (data: Buffer) => {
        sent += data.length
        if (cutAt !== undefined && sent > cutAt) {
          cutAt = undefined
          return forget()
        }
        upstream.write(data)
      })
      upstream.on("data", (data: Buffer) => {
        answered += data.length
        if (stallAt !== undefined && answered > stallAt) held.push(data)
        else client.write(data)
      })
    })
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        dropAll: () => {
          for (const socket of open) socket.destroy()
          open.clear()
        },
        cutAfter: (bytes) => void (cutAt = bytes),
        refuse: (on) => {
          refusing = on
          if (on) for (const socket of open) socket.destroy()
        },
        stallAfter: (bytes) => void (stallAt = bytes),
        release: () => {
          stallAt = undefined
          for (const release of releases) release()
        },
        connections: () => accepted,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of open) socket.destroy()
            server.close(() => done())
          })
      }))
  })
