/**
 * The upload page (public/index.html + this script, bundled to public/app.js
 * by `npm run build:page`): files chosen or dropped join a queue and are sent
 * one after another with the client library, with progress, speed and time
 * left per file, cancel, automatic resume after a dropped connection, and the
 * server's limits shown and checked up front. `?token=` in the page's URL is
 * passed on to the WebSocket handshake.
 */
/// <reference lib="dom" />
import { UploadCancelledError, UploadError } from "../Errors.js"
import { upload } from "../Upload.js"
import { formatBytes } from "../Format.js"
import { fetchLimits, type Limits, refusal } from "./Limits.js"
import { makeQueueItem, type QueueItem } from "./QueueItem.js"

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

const input = byId<HTMLInputElement>("files")
const zone = byId<HTMLLabelElement>("zone")
const queueSection = byId<HTMLElement>("queue-section")
const queue = byId<HTMLUListElement>("queue")
const clear = byId<HTMLButtonElement>("clear")
const limitsText = byId<HTMLElement>("limits")
const announcer = byId<HTMLElement>("announcer")
const integrity = byId<HTMLInputElement>("integrity")

const pageParams = new URLSearchParams(location.search)
const token = pageParams.get("token") ?? undefined
const waiting: Array<{ item: QueueItem; controller: AbortController }> = []
let running = false
let limits: Limits | undefined

const announce = (text: string) => {
  announcer.textContent = text
}

const showLimits = (found: Limits | undefined) => {
  if (found === undefined) {
    limitsText.textContent = "The server checks each file's type and size."
    return
  }
  limitsText.textContent = `Allowed: ${found.allowedExtensions.join(", ")} · up to ${formatBytes(found.maxFileBytes)} per file`
  input.accept = found.allowedExtensions.map((extension) => `.${extension}`).join(",")
}

const socketUrl = () =>
  `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${limits?.uploadPath ?? "/ws/file-transfer/"}`

const refreshClear = () => {
  clear.hidden = !Array.from(queue.children).some((li) => ["done", "error", "cancelled"].includes((li as HTMLElement).dataset["state"] ?? ""))
}

const run = async () => {
  if (running) return
  running = true
  for (let job = waiting.shift(); job !== undefined; job = waiting.shift()) {
    const { item, controller } = job
    if (controller.signal.aborted) continue
    const name = item.file.name
    announce(`Uploading ${name}`)
    let lastQuarter = 0
    try {
      const result = await upload(item.file, {
        url: socketUrl(),
        token,
        sha256: integrity.checked,
        signal: controller.signal,
        onProgress: (progress) => {
          item.progress(progress)
          const quarter = progress.total === 0 ? 4 : Math.floor((progress.bytes / progress.total) * 4)
          if (progress.phase === "uploading" && quarter > lastQuarter && quarter < 4) announce(`${name}: ${quarter * 25}%`)
          if (progress.phase === "uploading") lastQuarter = Math.max(lastQuarter, quarter)
        },
        onReconnect: (info) => {
          if (info.cause !== "storage_unavailable") return announce(`Connection lost; resuming ${name}`)
          item.setStatus("reconnecting", "Server storage unavailable; the upload is kept, retrying…")
          announce(`Server storage unavailable; ${name} will resume when it answers again`)
        }
      })
      const notes = [
        integrity.checked ? "SHA-256 verified" : "",
        result.reconnects === 0 ? "" : `resumed after ${result.reconnects === 1 ? "a dropped connection" : `${result.reconnects} dropped connections`}`
      ].filter((note) => note !== "")
      item.finish("done", `Uploaded as ${result.storedName}${notes.length === 0 ? "" : ` · ${notes.join(" · ")}`}`)
      item.element.title = result.message
      item.element.dataset["reconnects"] = String(result.reconnects)
      announce(`${name} uploaded`)
    } catch (error) {
      if (error instanceof UploadCancelledError) {
        item.finish("cancelled", "Cancelled")
        announce(`${name} cancelled`)
      } else {
        const message = error instanceof UploadError ? error.message : `Unexpected error: ${String(error)}`
        item.finish("error", message)
        announce(`${name} failed: ${message}`)
      }
    }
    refreshClear()
  }
  running = false
}

const addFiles = (files: Iterable<File>) => {
  for (const file of files) {
    const controller = new AbortController()
    const item = makeQueueItem(file, () => {
      if (item.state() === "queued") {
        item.finish("cancelled", "Cancelled")
        refreshClear()
      }
      controller.abort()
    })
    queue.append(item.element)
    const reason = refusal(file, limits)
    if (reason === undefined) waiting.push({ item, controller })
    else {
      item.finish("error", reason)
      announce(`${file.name} not sent: ${reason}`)
    }
  }
  queueSection.hidden = queue.children.length === 0
  refreshClear()
  void run()
}

input.addEventListener("change", () => {
  if (input.files !== null) addFiles(Array.from(input.files))
  input.value = ""
})
for (const type of ["dragenter", "dragover"]) {
  zone.addEventListener(type, (event) => {
    event.preventDefault()
    zone.classList.add("dragover")
  })
}
for (const type of ["dragleave", "dragend"]) zone.addEventListener(type, () => zone.classList.remove("dragover"))
zone.addEventListener("drop", (event) => {
  event.preventDefault()
  zone.classList.remove("dragover")
  if (event.dataTransfer !== null) addFiles(Array.from(event.dataTransfer.files))
})
// Dropping a file outside the zone must not navigate away from the page.
window.addEventListener("dragover", (event) => event.preventDefault())
window.addEventListener("drop", (event) => event.preventDefault())
clear.addEventListener("click", () => {
  for (const li of Array.from(queue.children) as Array<HTMLElement>) {
    if (["done", "error", "cancelled"].includes(li.dataset["state"] ?? "")) li.remove()
  }
  queueSection.hidden = queue.children.length === 0
  refreshClear()
  input.focus()
})

limits = await fetchLimits()
showLimits(limits)
document.body.dataset["ready"] = "true"
