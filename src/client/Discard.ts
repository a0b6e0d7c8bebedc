/**
 * Asking the server to drop an upload when the client gives up while no
 * connection is open (cancelled during a backoff, or while connecting), so the
 * partial file goes now rather than when it expires a day later.
 */
import { errorKind } from "./ErrorReply.js"
import { closeQuietly, openSocket, type WebSocketConstructor } from "./Socket.js"
import type { UploadSource } from "./Source.js"

const DISCARD_PATIENCE_MS = 3000

/**
 * Best effort, for a cancel while no connection is open: reopens `uploadId` on a
 * fresh connection and sends `cancel` once the server reopened it, so it deletes
 * the partial file now rather than when it expires. Retries while the server has
 * not yet let go of the dropped connection; gives up silently after a few seconds.
 * Nothing is sent when the server answers that the upload is gone or complete.
 */
export const discardOnServer = async (WebSocket: WebSocketConstructor, url: string, source: UploadSource, uploadId: string) => {
  const deadline = Date.now() + DISCARD_PATIENCE_MS
  while (Date.now() < deadline) {
    const events = openSocket(WebSocket, url)
    const timer = setTimeout(() => events.push({ _tag: "closed", code: 1006, reason: "timeout" }), deadline - Date.now())
    try {
      if ((await events.next())._tag !== "open") return
      events.socket.send(JSON.stringify({ type: "file_meta", file_name: source.name, file_size: source.size, upload_id: uploadId }))
      const meta = await events.next()
      if (meta._tag !== "reply") return
      if (meta.reply.type === "error" && errorKind(meta.reply) === "busy") {
        await new Promise((resolve) => setTimeout(resolve, 200))
        continue
      }
      // file_received: the upload completed (its last reply was lost); error: expired, unknown, store down.
      if (meta.reply.type !== "meta_received") return
      events.socket.send(JSON.stringify({ type: "cancel" }))
      await events.next() // upload_cancelled
      return
    } finally {
      clearTimeout(timer)
      closeQuietly(events.socket)
    }
  }
}
