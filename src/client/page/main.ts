/**
 * The upload page (public/index.html + this script, bundled to public/app.js
 * by `npm run build:page`): files chosen or dropped join a queue and are sent
 * one after another (Sender.ts), with progress per file and overall, cancel,
 * Retry, automatic resume after a dropped connection, resume after a reload
 * (Memory.ts: the page lists what an earlier page left unfinished, and
 * choosing the same file again continues it), a warning before leaving while
 * files are sent, and the server's limits shown and checked up front.
 * `?token=` in the page's URL is passed on to the WebSocket handshake.
 */
/// <reference lib="dom" />
import { UPLOAD_PATH } from "../../domain/UploadPath.js"
import { discardOnServer } from "../Discard.js"
import { formatBytes } from "../Format.js"
import type { WebSocketConstructor } from "../Socket.js"
import { fetchLimits, type Limits, refusal } from "./Limits.js"
import { fingerprint, type FileIdentity, makeUploadMemory, openStorage } from "./Memory.js"
import { showOverall } from "./Overall.js"
import { makeQueueItem, type QueueItem } from "./QueueItem.js"
import { send } from "./Sender.js"

const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

const input = byId<HTMLInputElement>("files")
const zone = byId<HTMLLabelElement>("zone")
const queueSection = byId<HTMLElement>("queue-section")
const queue = byId<HTMLUListElement>("queue")
const clear = byId<HTMLButtonElement>("clear")
const limitsText = byId<HTMLElement>("limits")
const announcer = byId<HTMLElement>("announcer")
const integrity = byId<HTMLInputElement>("integrity")
const overallText = byId<HTMLElement>("overall")
const overallBar = byId<HTMLProgressElement>("overall-progress")

const pageParams = new URLSearchParams(location.search)
const token = pageParams.get("token") ?? undefined
const memory = makeUploadMemory(openStorage())
const items = new Set<QueueItem>()
/** Uploads an earlier page left unfinished, by fingerprint, until their file is chosen again. */
const interrupted = new Map<string, QueueItem>()
const waiting: Array<{ item: QueueItem; file: File; controller: AbortController }> = []
let running = false
let limits: Limits | undefined

const FINISHED = ["done", "error", "cancelled"]

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

/** The WebSocket endpoint, which also keys the uploads remembered for a reload. */
const socketUrl = () =>
  `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${limits?.uploadPath ?? UPLOAD_PATH}`

const refresh = () => {
  for (const item of items) if (!item.element.isConnected) items.delete(item)
  clear.hidden = !Array.from(items).some((item) => FINISHED.includes(item.state()))
  queueSection.hidden = queue.children.length === 0
  showOverall(items, overallText, overallBar)
}

/** Asks the server to drop the remembered upload of `file` (best effort: else it expires), and forgets it. */
const discard = async (file: FileIdentity) => {
  const url = socketUrl()
  const entry = memory.find(file, url)
  memory.forget(file, url)
  if (entry === undefined) return
  const withToken = new URL(url)
  if (token !== undefined && token !== "") withToken.searchParams.set("token", token)
  // Only the name and size are sent with the upload_id: nothing is read.
  const source = { name: file.name, size: file.size, randomAccess: true, read: () => Promise.reject(new Error("not read")) }
  await discardOnServer(WebSocket as unknown as WebSocketConstructor, withToken.toString(), source, entry.uploadId)
}

/** Registered only while files are sent: an idle page can be left, and cached for back and forward, freely. */
const warnBeforeLeaving = (event: BeforeUnloadEvent) => {
  event.preventDefault()
  event.returnValue = true // browsers before the preventDefault() convention
}

const run = async () => {
  if (running) return
  running = true
  window.addEventListener("beforeunload", warnBeforeLeaving)
  for (let job = waiting.shift(); job !== undefined; job = waiting.shift()) {
    const { item, file, controller } = job
    if (controller.signal.aborted) continue
    const context = { url: socketUrl(), token, sha256: integrity.checked, memory, announce, changed: refresh }
    await send(item, file, controller.signal, context)
  }
  window.removeEventListener("beforeunload", warnBeforeLeaving)
  running = false
}

const addFile = (file: File) => {
  let controller = new AbortController()
  const item = makeQueueItem(file, {
    onCancel: () => {
      if (item.state() === "queued") {
        item.finish("cancelled", "Cancelled")
        void discard(file)
        refresh()
      }
      controller.abort()
    },
    onRetry: () => {
      controller = new AbortController()
      item.requeue()
      waiting.push({ item, file, controller })
      refresh()
      void run()
    }
  })
  items.add(item)
  // Chosen again after a reload: it takes the place of its interrupted upload, and resumes it.
  const key = fingerprint(file, socketUrl())
  const earlier = interrupted.get(key)
  interrupted.delete(key)
  if (earlier === undefined) queue.append(item.element)
  else {
    items.delete(earlier)
    earlier.element.replaceWith(item.element)
  }
  const reason = refusal(file, limits)
  if (reason === undefined) waiting.push({ item, file, controller })
  else {
    item.finish("error", reason)
    announce(`${file.name} not sent: ${reason}`)
  }
}

const addFiles = (files: Iterable<File>) => {
  for (const file of files) addFile(file)
  refresh()
  void run()
}

/** Lists what an earlier page left unfinished, so that the user can choose those files again. */
const showInterrupted = () => {
  const found = memory.unfinished(socketUrl())
  for (const entry of found) {
    const key = fingerprint(entry, entry.endpoint)
    const item = makeQueueItem(entry, {
      onCancel: () => {
        interrupted.delete(key)
        item.finish("cancelled", "Discarded")
        void discard(entry)
        refresh()
      },
      onRetry: () => undefined
    })
    item.interrupted(entry.receivedBytes)
    interrupted.set(key, item)
    items.add(item)
    queue.append(item.element)
  }
  if (found.length > 0) {
    const files = found.length === 1 ? "1 upload was" : `${found.length} uploads were`
    announce(`${files} interrupted: choose the same ${found.length === 1 ? "file" : "files"} again to resume`)
  }
  refresh()
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
  for (const item of items) if (FINISHED.includes(item.state())) item.element.remove()
  refresh()
  input.focus()
})

limits = await fetchLimits()
showLimits(limits)
showInterrupted()
document.body.dataset["ready"] = "true"
