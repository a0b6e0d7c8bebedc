/**
 * The client library's Node entry: everything in the core, plus files on disk
 * as sources, `ws` as the WebSocket (Node 20 has no global one) and
 * node:crypto's SHA-256 (native, so faster than the portable one).
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { WebSocket } from "ws"
import { InvalidSourceError } from "./Errors.js"
import type { Hasher } from "./Sha256.js"
import type { WebSocketConstructor } from "./Socket.js"
import type { UploadSource } from "./Source.js"
import { upload, type UploadOptions, type UploadResult } from "./Upload.js"

export * from "./index.js"

/** node:crypto's SHA-256 behind the client's Hasher interface. */
export const nodeSha256 = (): Hasher => {
  const hash = createHash("sha256")
  return { update: (bytes) => void hash.update(bytes), digestHex: () => hash.digest("hex") }
}

/**
 * `ws`'s WebSocket without compression (the server does not negotiate it), sending `headers` with
 * the handshake (an `Origin`, an `Authorization`). It reports the HTTP status of a refused
 * handshake as `handshakeStatus`, so that `upload` can tell a wrong token, Origin or path from a
 * server that is down.
 */
export const nodeWebSocket = (options: { readonly headers?: Readonly<Record<string, string>> } = {}): WebSocketConstructor =>
  class extends WebSocket {
    handshakeStatus: number | undefined = undefined
    constructor(url: string) {
      super(url, { perMessageDeflate: false, ...(options.headers === undefined ? {} : { headers: { ...options.headers } }) })
      this.on("unexpected-response", (_request, response) => {
        this.handshakeStatus = response.statusCode
        response.resume()
        // What ws does without this listener: abort the request, then error and close (1006).
        this.terminate()
      })
    }
  } as unknown as WebSocketConstructor

/** `nodeWebSocket()`: no extra headers. */
export const NodeWebSocket: WebSocketConstructor = nodeWebSocket()

/** A file on disk as a random-access source; close it when done. */
export const fileSource = async (filePath: string): Promise<UploadSource & { readonly close: () => Promise<void> }> => {
  const handle = await fs.open(filePath, "r").catch((error: NodeJS.ErrnoException) => {
    throw new InvalidSourceError(`Cannot open ${filePath}: ${error.code ?? error.message}`)
  })
  const stats = await handle.stat()
  if (!stats.isFile()) {
    await handle.close()
    throw new InvalidSourceError(`${filePath} is not a regular file`)
  }
  const size = stats.size
  return {
    name: path.basename(filePath),
    size,
    randomAccess: true,
    read: async (start, end) => {
      const buffer = Buffer.allocUnsafe(end - start)
      let filled = 0
      while (filled < buffer.length) {
        const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, start + filled)
        if (bytesRead === 0) throw new InvalidSourceError(`${filePath} shrank while being uploaded`)
        filled += bytesRead
      }
      return buffer
    },
    close: () => handle.close()
  }
}

/** Uploads a file from disk with `ws` and node:crypto unless the options say otherwise. */
export const uploadFile = async (filePath: string, options: UploadOptions): Promise<UploadResult> => {
  const source = await fileSource(filePath)
  try {
    return await upload(source, { WebSocket: NodeWebSocket, createSha256: nodeSha256, ...options })
  } finally {
    await source.close()
  }
}
