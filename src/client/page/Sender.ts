/**
 * Sends one file of the page's queue with the client library and shows it on
 * its queue item: progress, the waits the library reports with their reason,
 * the outcome. It resumes the upload the page's memory holds for the file (a
 * reload, a Retry), keeps that memory current, and forgets the upload once
 * the server is done with it. Drops are counted here, as connections that
 * were established and then ended, not as reconnection attempts.
 */
/// <reference lib="dom" />
import { ConnectionFailedError, ServerRefusedError, UploadCancelledError, UploadError } from "../Errors.js"
import { formatBytes } from "../Format.js"
import type { ReconnectInfo } from "../Options.js"
import type { WebSocketConstructor } from "../Socket.js"
import { upload } from "../Upload.js"
import type { UploadMemory } from "./Memory.js"
import type { QueueItem } from "./QueueItem.js"

export interface SendContext {
  /** The WebSocket endpoint, without the token: it is also the memory's endpoint. */
  readonly url: string
  readonly token: string | undefined
  readonly sha256: boolean
  readonly memory: UploadMemory
  readonly announce: (text: string) => void
  /** Called whenever the item's progress or state changed (the overall progress follows it). */
  readonly changed: () => void
}

/** How often at most the bytes received are saved while a file is sent. */
const SAVE_EVERY_MS = 1000

/** What the page shows while the library waits before its next try, by the wait's cause. */
const WAITS: Record<string, (seconds: number, info: ReconnectInfo) => string> = {
  connection: (s, info) => `Connection lost; retrying in ${s} s (attempt ${info.attempt})`,
  busy: (s) => `Waiting ${s} s: the server still holds this upload for the connection that dropped`,
  storage_unavailable: (s) => `Waiting ${s} s for the server's storage (the upload is kept)`,
  rate_limited: (s) => `Waiting ${s} s for the rate limit`
}

export const describeWait = (info: ReconnectInfo) => (seconds: number): string =>
  WAITS[info.cause]?.(seconds, info) ?? `Waiting ${seconds} s: ${info.reason}`

/**
 * Whether the server most likely still holds the upload after `error`, so that it stays
 * remembered for a Retry or a reload. Cancelled, completed or refused for good: forgotten.
 */
const keptByServer = (error: unknown): boolean =>
  error instanceof ConnectionFailedError ||
  (error instanceof ServerRefusedError && (error.code === "storage_unavailable" || error.code === "rate_limited"))

/** The browser's WebSocket, calling `onOpen` whenever a connection is established. */
const observedWebSocket = (onOpen: () => void): WebSocketConstructor =>
  class extends WebSocket {
    constructor(url: string) {
      super(url)
      this.addEventListener("open", onOpen)
    }
  } as unknown as WebSocketConstructor

/** Sends `file` as `item`; resolves once it is done, failed or cancelled (shown on the item). */
export const send = async (item: QueueItem, file: File, signal: AbortSignal, ctx: SendContext): Promise<void> => {
  const { memory, announce, url } = ctx
  const name = file.name
  const remembered = memory.find(file, url)
  let uploadId = remembered?.uploadId
  let savedAt = 0
  let resumedFrom: number | undefined
  let lastQuarter = 0
  let established = false
  let drops = 0
  let lastCause: string | undefined
  announce(`Uploading ${name}`)
  try {
    const result = await upload(file, {
      url,
      token: ctx.token,
      sha256: ctx.sha256,
      signal,
      uploadId,
      WebSocket: observedWebSocket(() => (established = true)),
      onUploadId: (id) => {
        // A new id after a remembered one: the server no longer knew it and started over.
        uploadId = id
        savedAt = Date.now()
        memory.remember(file, url, id, item.sentBytes())
      },
      onProgress: (progress) => {
        item.progress(progress)
        ctx.changed()
        if (progress.phase !== "uploading") return
        resumedFrom ??= remembered !== undefined && progress.bytes > 0 ? progress.bytes : 0
        if (uploadId !== undefined && Date.now() - savedAt >= SAVE_EVERY_MS) {
          savedAt = Date.now()
          memory.remember(file, url, uploadId, progress.bytes)
        }
        const quarter = progress.total === 0 ? 4 : Math.floor((progress.bytes / progress.total) * 4)
        if (quarter > lastQuarter && quarter < 4) announce(`${name}: ${quarter * 25}%`)
        lastQuarter = Math.max(lastQuarter, quarter)
      },
      onReconnect: (info) => {
        // A drop is a connection that was established and ended, not each attempt that failed to open one.
        if (info.cause === "connection" && established) drops++
        established = false
        const describe = describeWait(info)
        item.waiting(describe, info.delayMs)
        if (info.cause !== lastCause || info.attempt === 1) announce(`${name}: ${describe(Math.max(1, Math.ceil(info.delayMs / 1000)))}`)
        lastCause = info.cause
      }
    })
    memory.forget(file, url)
    const renamed = result.storedName !== "" && result.storedName !== name
    const notes = [
      renamed ? "renamed by the server" : "",
      ctx.sha256 ? "SHA-256 verified" : "",
      resumedFrom !== undefined && resumedFrom > 0 ? `continued from ${formatBytes(resumedFrom)} sent earlier` : "",
      drops === 0 ? "" : `resumed after ${drops === 1 ? "a dropped connection" : `${drops} dropped connections`}`
    ].filter((note) => note !== "")
    if (renamed) item.storedAs(result.storedName)
    item.finish("done", `Uploaded as ${result.storedName}${notes.length === 0 ? "" : ` · ${notes.join(" · ")}`}`)
    item.element.title = result.message
    item.element.dataset["reconnects"] = String(drops)
    announce(renamed ? `${name} uploaded, stored as ${result.storedName}` : `${name} uploaded`)
  } catch (error) {
    if (!keptByServer(error)) memory.forget(file, url)
    if (error instanceof UploadCancelledError) {
      item.finish("cancelled", "Cancelled")
      announce(`${name} cancelled`)
    } else {
      const message = error instanceof UploadError ? error.message : `Unexpected error: ${String(error)}`
      item.finish("error", message, true)
      announce(`${name} failed: ${message}`)
    }
  }
  ctx.changed()
}
