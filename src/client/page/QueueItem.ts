/**
 * One file in the page's queue: a list item with the name, size, a progress
 * bar, speed and time left, the outcome (the server's own message on error)
 * and a Cancel button. `data-state` drives its look and the tests.
 */
/// <reference lib="dom" />
import type { UploadProgress } from "../Upload.js"
import { extensionOf, formatBytes, formatEta } from "../Format.js"

export type ItemState = "queued" | "hashing" | "uploading" | "reconnecting" | "done" | "error" | "cancelled"

export interface QueueItem {
  readonly element: HTMLLIElement
  readonly file: File
  readonly state: () => ItemState
  readonly progress: (progress: UploadProgress) => void
  readonly finish: (state: "done" | "error" | "cancelled", message: string) => void
  readonly setStatus: (state: ItemState, message: string) => void
}

const element = <K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text = ""): HTMLElementTagNameMap[K] => {
  const node = document.createElement(tag)
  node.className = className
  node.textContent = text
  return node
}

let nextId = 0

export const makeQueueItem = (file: File, onCancel: () => void): QueueItem => {
  const id = `upload-${nextId++}`
  const li = element("li", "item")
  li.dataset["name"] = file.name
  li.setAttribute("aria-labelledby", `${id}-name`)
  const badge = element("span", "badge", (extensionOf(file.name) || "file").slice(0, 4))
  badge.setAttribute("aria-hidden", "true")
  const body = element("div", "item-body")
  const head = element("div", "item-row")
  const name = element("span", "item-name", file.name)
  name.id = `${id}-name`
  head.append(name, element("span", "item-size", formatBytes(file.size)))
  const bar = element("progress", "item-progress")
  bar.max = 100
  bar.value = 0
  bar.setAttribute("aria-label", `Progress of ${file.name}`)
  const foot = element("div", "item-row")
  const status = element("span", "item-status", "Waiting")
  const stats = element("span", "item-stats")
  foot.append(status, stats)
  body.append(head, bar, foot)
  const cancel = element("button", "item-cancel")
  cancel.type = "button"
  cancel.setAttribute("aria-label", `Cancel ${file.name}`)
  cancel.title = "Cancel"
  cancel.innerHTML = `<svg viewBox="0 0 20 20" aria-hidden="true"><path d="M5 5l10 10M15 5 5 15" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>`
  cancel.addEventListener("click", onCancel)
  li.append(badge, body, cancel)

  let current: ItemState = "queued"
  const setStatus = (state: ItemState, message: string) => {
    current = state
    li.dataset["state"] = state
    status.textContent = message
  }
  setStatus("queued", "Waiting")

  const setBar = (bytes: number, total: number) => {
    const percent = total === 0 ? 100 : Math.floor((bytes / total) * 100)
    bar.value = percent
    bar.textContent = `${percent}%`
  }

  return {
    element: li,
    file,
    state: () => current,
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
    finish: (state, message) => {
      if (state === "done") setBar(1, 1)
      setStatus(state, message)
      stats.textContent = ""
      // Hiding a focused button would drop keyboard focus to the top of the page: keep it on this file.
      const hadFocus = document.activeElement === cancel
      cancel.hidden = true
      if (hadFocus) {
        li.tabIndex = -1
        li.focus()
      }
    }
  }
}
