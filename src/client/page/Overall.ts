/**
 * The queue's overall progress, above the list: "2 of 3 files uploaded ·
 * 1 failed · 4.5 MiB of 9 MiB", and one bar for the bytes. Files that were
 * cancelled, or interrupted by an earlier page and not chosen again, do not
 * count; a failed file counts as a file, not in the bytes.
 */
/// <reference lib="dom" />
import { formatBytes } from "../Format.js"
import type { QueueItem } from "./QueueItem.js"

export interface Overall {
  readonly files: number
  readonly done: number
  readonly failed: number
  readonly sentBytes: number
  readonly totalBytes: number
}

export const overallOf = (items: Iterable<QueueItem>): Overall => {
  let files = 0, done = 0, failed = 0, sentBytes = 0, totalBytes = 0
  for (const item of items) {
    const state = item.state()
    if (state === "cancelled" || state === "interrupted") continue
    files++
    if (state === "error") {
      failed++
      continue
    }
    if (state === "done") done++
    sentBytes += state === "done" ? item.size : item.sentBytes()
    totalBytes += item.size
  }
  return { files, done, failed, sentBytes, totalBytes }
}

export const overallText = ({ done, failed, files, sentBytes, totalBytes }: Overall): string =>
  [
    `${done} of ${files} ${files === 1 ? "file" : "files"} uploaded`,
    failed === 0 ? "" : `${failed} failed`,
    totalBytes === 0 ? "" : `${formatBytes(sentBytes)} of ${formatBytes(totalBytes)}`
  ].filter((part) => part !== "").join(" · ")

/** Shows the overall progress of `items` in `text` and `bar`; both hidden while nothing counts. */
export const showOverall = (items: Iterable<QueueItem>, text: HTMLElement, bar: HTMLProgressElement) => {
  const overall = overallOf(items)
  text.hidden = bar.hidden = overall.files === 0
  text.textContent = overallText(overall)
  const percent = overall.totalBytes === 0 ? (overall.done > 0 ? 100 : 0) : Math.floor((overall.sentBytes / overall.totalBytes) * 100)
  bar.value = percent
  bar.textContent = `${percent}%`
}
