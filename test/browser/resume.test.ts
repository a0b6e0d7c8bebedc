/**
 * The upload page across reloads and failures, in a real browser against the
 * real server: it remembers unfinished uploads in localStorage, lists them
 * after a reload, resumes one at the server's offset when its file is chosen
 * again, warns before the page is left while files are sent, forgets an
 * upload once finished, cancelled, expired or unknown to the server, and
 * retries a failed file from where the server stopped.
 *
 * Uploads are held mid-way by the proxy, which stalls the server's replies
 * (the page waits with chunks in flight) or refuses connections.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { Page } from "playwright-core"
import { expect, it } from "vitest"
import { scratchDirectory } from "../support/scratch.js"
import { eventually } from "../support/server.js"
import { describeInBrowser, dropGenerated, generated, item, outcome, sha256, useBrowser } from "./harness.js"

const MiB = 1024 * 1024
const PREFIX = "file-receiver:upload:"

interface Remembered {
  readonly uploadId: string
  readonly name: string
  readonly size: number
  readonly lastModified: number
  readonly receivedBytes: number
  readonly savedAt: number
}

/** The page's entries for unfinished uploads. */
const remembered = (page: Page): Promise<Array<Remembered>> =>
  page.evaluate((prefix) =>
    Object.keys(localStorage).filter((key) => key.startsWith(prefix)).map((key) => JSON.parse(localStorage.getItem(key)!) as Remembered), PREFIX)

/** What the page's WebSockets carry from now on: the meta_received replies, and the file bytes sent. */
const watchFrames = (page: Page) => {
  const seen = { metas: [] as Array<{ readonly upload_id: string; readonly offset: number }>, bytesSent: 0 }
  page.on("websocket", (socket) => {
    socket.on("framesent", ({ payload }) => {
      if (typeof payload !== "string") seen.bytesSent += payload.length
    })
    socket.on("framereceived", ({ payload }) => {
      const reply = JSON.parse(payload.toString()) as { readonly type: string; readonly upload_id: string; readonly offset: number }
      if (reply.type === "meta_received") seen.metas.push(reply)
    })
  })
  return seen
}

/** Whether the page's beforeunload handlers ask to stay on the page. */
const asksBeforeLeaving = (page: Page) =>
  page.evaluate(() => {
    const event = new Event("beforeunload", { cancelable: true })
    window.dispatchEvent(event)
    return event.defaultPrevented
  })

describeInBrowser("upload page: resume across reloads, Retry, the leave warning (Chromium)", { timeout: 90_000 }, () => {
  const h = useBrowser({ FILE_MAX_SIZE: "8", MAX_CHUNK_BYTES: String(256 * 1024) })
  const scratch = scratchDirectory("fr-page-")
  /** The server's partial files (`.<upload_id>.part`): the unfinished uploads it holds. */
  const partials = async () => (await fs.readdir(h.server.directory)).filter((name) => name.endsWith(".part"))
  /** Partial files that were not there `before`: a test's own, as the server is shared. */
  const partialsSince = async (before: ReadonlyArray<string>) => (await partials()).filter((name) => !before.includes(name))

  it("after a reload, lists the interrupted upload; choosing the same file again resumes it at the server's offset", async () => {
    const bytes = generated("reloaded.jpg", 6 * MiB)
    const file = await scratch.write("reloaded.jpg", bytes)
    const before = await partials()
    const page = await h.openPage(h.proxy.port)
    page.on("dialog", (dialog) => void dialog.accept())
    h.proxy.stallAfter(400)
    let uploadId: string
    try {
      await page.locator("#files").setInputFiles(file)
      await outcome(page, "reloaded.jpg", "uploading")
      const [entry] = await remembered(page)
      expect(entry).toMatchObject({ name: "reloaded.jpg", size: bytes.length, lastModified: expect.any(Number), savedAt: expect.any(Number) })
      uploadId = entry!.uploadId
      // The server has written some of the chunks in flight (its acknowledgements are held back).
      await eventually(async () => expect((await fs.stat(path.join(h.server.directory, `.${uploadId}.part`))).size).toBeGreaterThan(0))
      h.proxy.refuse(true) // the connection goes; the page waits longer after each attempt that fails
    } finally {
      h.proxy.release()
    }
    try {
      // A wait of 1 to 2 s: the reload (a stalling proxy would hold up the page itself) comes well before the next attempt.
      await item(page, "reloaded.jpg").locator(".item-status", { hasText: "(attempt 4)" }).waitFor()
    } finally {
      h.proxy.refuse(false)
    }
    await page.reload()
    await page.locator("body[data-ready]").waitFor()
    expect(await outcome(page, "reloaded.jpg", "interrupted")).toMatch(/^Interrupted at .+ of 6 MiB · choose this file again to resume$/)
    expect(await page.locator("#announcer").textContent()).toBe("1 upload was interrupted: choose the same file again to resume")

    const frames = watchFrames(page)
    await page.locator("#files").setInputFiles(file)
    expect(await outcome(page, "reloaded.jpg", "done")).toMatch(/^Uploaded as reloaded\.jpg · SHA-256 verified · continued from .+ sent earlier$/)
    expect(await item(page, "reloaded.jpg").count()).toBe(1) // the interrupted line became this one
    const resumedAt = frames.metas[frames.metas.length - 1]!
    expect(resumedAt.upload_id).toBe(uploadId)
    expect(resumedAt.offset).toBeGreaterThan(0)
    expect(frames.bytesSent).toBe(bytes.length - resumedAt.offset)
    expect(sha256(await fs.readFile(path.join(h.server.directory, "reloaded.jpg")))).toBe(sha256(bytes))
    expect(await fs.readdir(h.server.directory)).not.toContain("reloaded_1.jpg")
    expect(await partialsSince(before)).toEqual([]) // neither the resumed upload's nor a second one
    expect(await remembered(page)).toEqual([])
    await page.close()
  })

  it("warns before the page is left while a file is sent, and not once nothing is", async () => {
    const page = await h.openPage(h.proxy.port)
    expect(await asksBeforeLeaving(page)).toBe(false)
    h.proxy.stallAfter(400)
    try {
      await dropGenerated(page, "leaving.gif", 5 * MiB)
      await outcome(page, "leaving.gif", "uploading")
      expect(await asksBeforeLeaving(page)).toBe(true)
      // The browser's own prompt, on a page the user has interacted with: dismissed, the page stays.
      await page.locator("h1").click()
      const prompt = page.waitForEvent("dialog")
      await page.close({ runBeforeUnload: true }) // does not wait for the page to close
      const dialog = await prompt
      expect(dialog.type()).toBe("beforeunload")
      await dialog.dismiss()
      await item(page, "leaving.gif").locator(".item-cancel").click()
      await outcome(page, "leaving.gif", "cancelled")
    } finally {
      h.proxy.release()
    }
    expect(await asksBeforeLeaving(page)).toBe(false)
    await page.close()
  })

  it("forgets an upload once it is finished or cancelled", async () => {
    const before = await partials()
    const page = await h.openPage(h.proxy.port)
    for (const [name, end] of [["kept.gif", "done"], ["dropped.gif", "cancelled"]] as const) {
      h.proxy.stallAfter(400)
      try {
        await dropGenerated(page, name, 3 * MiB)
        await outcome(page, name, "uploading")
        expect((await remembered(page)).map((entry) => entry.name)).toEqual([name])
        await eventually(async () => expect(await partialsSince(before)).toHaveLength(1))
        if (end === "cancelled") await item(page, name).locator(".item-cancel").click()
      } finally {
        h.proxy.release()
      }
      await outcome(page, name, end)
      expect(await remembered(page)).toEqual([])
    }
    await eventually(async () => expect(await partialsSince(before)).toEqual([]))
    await page.close()
  })

  it("drops entries older than a day, and replaces one the server no longer knows with the new upload", async () => {
    const page = await h.openPage(h.proxy.port)
    const endpoint = `ws://127.0.0.1:${h.proxy.port}/ws/file-transfer/`
    const lastModified = 1_700_000_000_000
    const entry = (name: string, size: number, savedAt: number) =>
      [PREFIX + JSON.stringify([endpoint, name, size, lastModified]), JSON.stringify({ uploadId: `${name.replace(/\W/g, "")}NotKnownToTheServer`, endpoint, name, size, lastModified, receivedBytes: 1024, savedAt })]
    await page.evaluate((entries) => entries.forEach(([key, value]) => localStorage.setItem(key!, value!)), [
      entry("stale.jpg", 2 * MiB, Date.now() - 25 * 60 * 60 * 1000),
      entry("unknown.jpg", 2 * MiB, Date.now() - 60_000)
    ])
    await page.reload()
    await page.locator("body[data-ready]").waitFor()
    expect(await item(page, "stale.jpg").count()).toBe(0)
    expect(await outcome(page, "unknown.jpg", "interrupted")).toContain("choose this file again to resume")
    expect((await remembered(page)).map((e) => e.name)).toEqual(["unknown.jpg"])

    h.proxy.stallAfter(400)
    try {
      await dropGenerated(page, "unknown.jpg", 2 * MiB, lastModified)
      await outcome(page, "unknown.jpg", "uploading")
      const [replaced] = await remembered(page)
      expect(replaced!.uploadId).not.toBe("unknownjpgNotKnownToTheServer")
    } finally {
      h.proxy.release()
    }
    expect(await outcome(page, "unknown.jpg", "done")).toBe("Uploaded as unknown.jpg · SHA-256 verified")
    expect(sha256(await fs.readFile(path.join(h.server.directory, "unknown.jpg")))).toBe(sha256(generated("unknown.jpg", 2 * MiB)))
    expect(await remembered(page)).toEqual([])
    await page.close()
  })

  it("offers Retry on a failed file, which resumes it where the server stopped", async () => {
    const before = await partials()
    const page = await h.openPage(h.proxy.port)
    const bytes = generated("retried.jpg", 6 * MiB)
    h.proxy.stallAfter(400)
    let uploadId: string
    try {
      await dropGenerated(page, "retried.jpg", bytes.length, 1_700_000_000_000)
      await outcome(page, "retried.jpg", "uploading")
      uploadId = (await remembered(page))[0]!.uploadId
      await eventually(async () => expect((await fs.stat(path.join(h.server.directory, `.${uploadId}.part`))).size).toBeGreaterThan(0))
      h.proxy.refuse(true) // the server is unreachable until the page gives up
    } finally {
      h.proxy.release()
    }
    const retry = item(page, "retried.jpg").locator(".item-retry")
    try {
      expect(await outcome(page, "retried.jpg", "error", 60_000)).toMatch(/^Gave up after \d+ failed connections/)
      expect(await retry.isVisible()).toBe(true)
      expect(await retry.getAttribute("aria-label")).toBe("Retry retried.jpg")
      expect((await remembered(page)).map((entry) => entry.uploadId)).toEqual([uploadId]) // the server keeps it
    } finally {
      h.proxy.refuse(false)
    }
    const frames = watchFrames(page)
    await retry.focus()
    await page.keyboard.press("Enter")
    expect(await outcome(page, "retried.jpg", "done")).toContain("Uploaded as retried.jpg")
    expect(await retry.isVisible()).toBe(false)
    expect(frames.metas[0]).toMatchObject({ upload_id: uploadId })
    expect(frames.metas[0]!.offset).toBeGreaterThan(0)
    expect(frames.bytesSent).toBe(bytes.length - frames.metas[0]!.offset)
    expect(sha256(await fs.readFile(path.join(h.server.directory, "retried.jpg")))).toBe(sha256(bytes))
    expect(await partialsSince(before)).toEqual([])
    expect(await remembered(page)).toEqual([])
    await page.close()
  })
})
