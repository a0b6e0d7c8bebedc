/**
 * One file in the page's queue: a list item with the name, size, a progress
 * bar, speed and time left, the outcome (the server's own message on error),
 * the stored name when the server chose another one, and its buttons: Cancel
 * while it waits or is sent (Discard for an upload interrupted by a reload),
 * Retry once it failed. `data-state` drives its look and the tests.
 */
/// <reference lib="dom" />
import type { UploadProgress } from "../Upload.js"
import { extensionOf, formatBytes, formatEta } from "../Format.js"

/** `interrupted`: left unfinished by an earlier page, waiting for its file to be chosen again. */
export type ItemState = "interrupted" | "queued" | "hashing" | "uploading" | "reconnecting" | "done" | "error" | "cancelled"

export interface QueueItem {
  readonly element: HTMLLIElement
  readonly name: string
  readonly size: number
  readonly state: () => ItemState
  /** Bytes the server confirmed so far. */
  readonly sentBytes: () => number
  readonly progress: (progress: UploadProgress) => void
  /** A wait before the next try: `describe(seconds left)` is shown, counting down. */
  readonly waiting: (describe: (seconds: number) => string, delayMs: number) => void
  /** The end of a try; `retry` shows the Retry button. */
  readonly finish: (state: "done" | "error" | "cancelled", message: string, retry?: boolean) => void
  readonly setStatus: (state: ItemState, message: string) => void
  /** Back in the queue (Retry, or its file chosen again): Cancel is offered again. */
  readonly requeue: () => void
  /** The server stored the file as `storedName`, not under the name chosen. */
  readonly storedAs: (storedName: string) => void
  /** Left unfinished by an earlier page at `receivedBytes`: choosing the file again resumes it. */
  readonly interrupted: (receivedBytes: number) => void
}

export interface ItemActions {
  readonly onCancel: () => void
  readonly onRetry: () => void
}

const element = <K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ""): HTMLElementTagNameMap[K] => {
  const node = document.createElement(tag)
  node.className = className
  node.textContent = text
  return node
}

let nextId = 0

export const makeQueueItem = (file: { readonly name: string; readonly size: number }, actions: ItemActions): QueueItem => {
  const id = `upload-${nextId++}`
  const li = element("li", "item")
  li.dataset["name"] = file.name
  li.setAttribute("aria-labelledby", `${id}-name`)
  const badge = element("span", "badge", (extensionOf(file.name) || "file").slice(0, 4))
  badge.setAttribute("aria-hidden", "true")
  const body = element("div", "item-body")
  const head = element("div", "item-row")
  const names = element("span", "item-names")
  const name = element("span", "item-name", file.name)
  name.id = `${id}-name`
  const stored = element("span", "item-stored")
  stored.hidden = true
  names.append(name, stored)
  head.append(names, element("span", "item-size", formatBytes(file.size)))
  const bar = element("progress", "item-progress")
  bar.max = 100
  bar.value = 0
  bar.setAttribute("aria-label", `Progress of ${file.name}`)
  const foot = element("div", "item-row")
  const status = element("span", "item-status", "Waiting")
  const stats = element("span", "item-stats")
  foot.append(status, stats)
  body.append(head, bar, foot)
  const retry = element("button", "ghost item-retry", "Retry")
  retry.type = "button"
  retry.setAttribute("aria-label", `Retry ${file.name}`)
  retry.hidden = true
  retry.addEventListener("click", actions.onRetry)
  const cancel = element("button", "item-cancel")
  cancel.type = "button"
  cancel.setAttribute("aria-label", `Cancel ${file.name}`)
  cancel.title = "Cancel"
  cancel.innerHTML = `<svg viewBox="0 0 20 20" aria-hidden="true"><path d="M5 5l10 10M15 5 5 15" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>`
  cancel.addEventListener("click", actions.onCancel)
  const buttons = element("div", "item-actions")
  buttons.append(retry, cancel)
  li.append(badge, body, buttons)

  let current: ItemState = "queued"
  let sent = 0
  let countdown: ReturnType<typeof setInterval> | undefined
  const setStatus = (state: ItemState, message: string) => {
    clearInterval(countdown)
    current = state
    li.dataset["state"] = state
    status.textContent = message
  }
  setStatus("queued", "Waiting")

  const setBar = (bytes: number, total: number) => {
    sent = bytes
    const percent = total === 0 ? 100 : Math.floor((bytes / total) * 100)
    bar.value = percent
    bar.textContent = `${percent}%`
  }

  /** Hides `button`; a focused one would drop keyboard focus to the top of the page, so it goes to `next` or the file. */
  const hide = (button: HTMLButtonElement, next: HTMLButtonElement | undefined) => {
    const hadFocus = document.activeElement === button
    button.hidden = true
    if (!hadFocus) return
    if (next !== undefined) return next.focus()
    li.tabIndex = -1
    li.focus()
  }

  return {
    element: li,
    name: file.name,
    size: file.size,
    state: () => current,
    sentBytes: () => sent,
    setStatus,
    progress: (p) => {
      if (p.phase === "hashing") {
        setStatus("hashing", `Computing SHA-256… ${p.total === 0 ? 100 : Math.floor((p.bytes / p.total) * 100)}%`)
        return
      }
      if (p.phase === "reconnecting") {
        setStatus("reconnecting", "Connection lost, resuming…")
        stats.textContent = ""
        return
      }
      setBar(p.bytes, p.total)
      setStatus("uploading", `${formatBytes(p.bytes)} of ${formatBytes(p.total)}`)
      stats.textContent = [p.rate > 0 ? `${formatBytes(Math.round(p.rate))}/s` : "", formatEta(p.eta)]
        .filter((part) => part !== "")
        .join(" · ")
    },
    waiting: (describe, delayMs) => {
      const until = Date.now() + delayMs
      const show = () => (status.textContent = describe(Math.max(1, Math.ceil((until - Date.now()) / 1000))))
      setStatus("reconnecting", "")
      show()
      countdown = setInterval(show, 1000)
    },
    finish: (state, message, offerRetry = false) => {
      if (state === "done") setBar(file.size, file.size)
      setStatus(state, message)
      stats.textContent = ""
      retry.hidden = !offerRetry
      hide(cancel, offerRetry ? retry : undefined)
    },
    requeue: () => {
      setStatus("queued", "Waiting")
      cancel.hidden = false
      cancel.setAttribute("aria-label", `Cancel ${file.name}`)
      cancel.title = "Cancel"
      hide(retry, cancel)
    },
    storedAs: (storedName) => {
      li.dataset["storedName"] = storedName
      stored.textContent = `stored as ${storedName}`
      stored.hidden = false
    },
    interrupted: (receivedBytes) => {
      setBar(receivedBytes, file.size)
      setStatus(
        "interrupted",
        `Interrupted at ${formatBytes(receivedBytes)} of ${formatBytes(file.size)} · choose this file again to resume`
      )
      cancel.setAttribute("aria-label", `Discard the interrupted upload of ${file.name}`)
      cancel.title = "Discard"
    }
  }
}
