/**
 * The upload page in a real browser (Debian's Chromium through
 * playwright-core) against the real server on a free port: files are chosen,
 * queued, uploaded over the WebSocket and checked on disk by sha256; refused
 * files show why next to their name; a connection cut mid-upload resumes.
 *
 * Without /usr/bin/chromium the suite is skipped locally, but fails in CI.
 * PAGE_SCREENSHOT=docs/upload-page.png (npm run screenshot) saves how the
 * page looks after an upload.
 */
import { createHash, randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type DroppingProxy, startProxy } from "../support/proxy.js"
import { type RunningServer, startServer } from "../support/server.js"

const CHROMIUM = "/usr/bin/chromium"
const hasChromium = existsSync(CHROMIUM)
const inCI = process.env["CI"] === "true"

if (!hasChromium && !inCI) {
  console.warn(`Skipping browser tests: ${CHROMIUM} not found (install it with: apt-get install -y chromium)`)
}

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

describe.skipIf(!hasChromium && !inCI)("upload page (Chromium)", () => {
  let server: RunningServer
  let proxy: DroppingProxy
  let browser: Browser | undefined

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`${CHROMIUM} is missing; the browser tests cannot run in CI without it`)
    server = await startServer({ FILE_MAX_SIZE: "8" })
    proxy = await startProxy(server.port)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    })
  })

  afterAll(async () => {
    await browser?.close()
    await proxy?.close()
    await server?.stop()
  })

  /** Script errors and console errors seen on each page. */
  const problems = new WeakMap<Page, Array<string>>()
  const problemsOf = (page: Page): Array<string> => problems.get(page) ?? []

  /** A fresh page, loaded and showing the server's limits. */
  const openPage = async (port = server.port): Promise<Page> => {
    if (browser === undefined) throw new Error("the browser did not start")
    const page = await browser.newPage({ viewport: { width: 900, height: 760 } })
    const seen: Array<string> = []
    problems.set(page, seen)
    page.on("pageerror", (error) => seen.push(error.message))
    page.on("console", (message) => {
      if (message.type() === "error") seen.push(message.text())
    })
    await page.goto(`http://127.0.0.1:${port}/`)
    await page.locator("body[data-ready]").waitFor()
    return page
  }

  const item = (page: Page, name: string) => page.locator(`#queue li[data-name="${name}"]`)

  /** Waits for a queued file to end in `state`; returns its status text. */
  const outcome = async (page: Page, name: string, state: "done" | "error" | "cancelled") => {
    await item(page, name).and(page.locator(`[data-state="${state}"]`)).waitFor({ timeout: 30_000 })
    return (await item(page, name).locator(".item-status").textContent()) ?? ""
  }

  const progressOf = (page: Page, name: string) =>
    item(page, name).locator("progress").evaluate((el) => (el as unknown as { readonly value: number }).value)

  it("shows the allowed extensions and the size limit before anything is sent", async () => {
    const page = await openPage()
    const limits = await page.locator("#limits").textContent()
    expect(limits).toContain("txt, pdf, png, jpg, jpeg, gif")
    expect(limits).toContain("8.0 MiB")
    expect(await page.locator("#files").getAttribute("accept")).toBe(".txt,.pdf,.png,.jpg,.jpeg,.gif")
    expect(await page.locator("label[for=files]").count()).toBe(1)
    expect(await page.locator("#announcer").getAttribute("aria-live")).toBe("polite")
    await page.close()
  })

  it("uploads two files from one choice and stores both unchanged; a refused type shows why and is not sent", async () => {
    const page = await openPage()
    const photo = randomBytes(700 * 1024 + 123)
    const report = randomBytes(2 * 1024 * 1024 + 7)
    await page.locator("#files").setInputFiles([
      { name: "photo.png", mimeType: "image/png", buffer: photo },
      { name: "report.pdf", mimeType: "application/pdf", buffer: report },
      { name: "malware.exe", mimeType: "application/octet-stream", buffer: Buffer.from("MZ not really") }
    ])

    expect(await outcome(page, "photo.png", "done")).toContain("File photo.png received successfully")
    expect(await outcome(page, "report.pdf", "done")).toContain("File report.pdf received successfully")
    expect(await outcome(page, "malware.exe", "error")).toBe(
      "Invalid file extension: exe. Allowed: txt, pdf, png, jpg, jpeg, gif"
    )
    expect(await progressOf(page, "report.pdf")).toBe(100)
    expect(sha256(await fs.readFile(path.join(server.directory, "photo.png")))).toBe(sha256(photo))
    expect(sha256(await fs.readFile(path.join(server.directory, "report.pdf")))).toBe(sha256(report))
    expect(await fs.readdir(server.directory)).not.toContain("malware.exe")
    expect(await page.locator("#announcer").textContent()).not.toBe("")
    expect(problemsOf(page)).toEqual([])

    const screenshot = process.env["PAGE_SCREENSHOT"]
    if (screenshot !== undefined && screenshot !== "") {
      await page.locator("#integrity").focus() // no focus ring on the drop zone in the picture
      await page.screenshot({ path: screenshot, fullPage: true })
    }
    await page.close()
  })

  it("shows the server's own error next to a file the page could not refuse up front", async () => {
    const page = await openPage()
    const longName = `${"a".repeat(300)}.txt`
    await page.locator("#files").setInputFiles({ name: longName, mimeType: "text/plain", buffer: Buffer.from("hello") })
    expect(await outcome(page, longName, "error")).toBe("Invalid file name: longer than 255 bytes")
    await page.close()
  })

  it("refuses a file over the size limit before sending it", async () => {
    const page = await openPage()
    await page.locator("#files").setInputFiles({ name: "huge.pdf", mimeType: "application/pdf", buffer: Buffer.alloc(9 * 1024 * 1024) })
    expect(await outcome(page, "huge.pdf", "error")).toBe("File too large: 9437184 bytes exceeds the limit of 8 MiB")
    expect(await fs.readdir(server.directory)).not.toContain("huge.pdf")
    await page.close()
  })

  it("resumes by itself when the connection drops mid-upload", async () => {
    const page = await openPage(proxy.port)
    const bytes = randomBytes(6 * 1024 * 1024)
    proxy.cutAfter(2 * 1024 * 1024)
    await page.locator("#files").setInputFiles({ name: "resumed.jpg", mimeType: "image/jpeg", buffer: bytes })

    expect(await outcome(page, "resumed.jpg", "done")).toContain("resumed after a dropped connection")
    expect(await item(page, "resumed.jpg").getAttribute("data-reconnects")).toBe("1")
    expect(sha256(await fs.readFile(path.join(server.directory, "resumed.jpg")))).toBe(sha256(bytes))
    expect(await fs.readdir(server.directory)).not.toContain("resumed_1.jpg")
    await page.close()
  })

  it("completes an empty file", async () => {
    const page = await openPage()
    await page.locator("#files").setInputFiles({ name: "empty.txt", mimeType: "text/plain", buffer: Buffer.alloc(0) })
    expect(await outcome(page, "empty.txt", "done")).toContain("empty.txt received successfully")
    expect((await fs.stat(path.join(server.directory, "empty.txt"))).size).toBe(0)
    expect(problemsOf(page)).toEqual([])
    await page.close()
  })

  it("cancels a file from the keyboard while it uploads", async () => {
    const page = await openPage(proxy.port)
    // Slow this one down: without integrity checking it starts at once; the cut makes it wait on a reconnect.
    await page.locator("#integrity").uncheck()
    proxy.cutAfter(256 * 1024)
    await page.locator("#files").setInputFiles({ name: "cancel.gif", mimeType: "image/gif", buffer: randomBytes(7 * 1024 * 1024) })
    await item(page, "cancel.gif").and(page.locator(`[data-state="reconnecting"]`)).waitFor({ timeout: 30_000 })
    await item(page, "cancel.gif").locator(".item-cancel").focus()
    await page.keyboard.press("Enter")
    expect(await outcome(page, "cancel.gif", "cancelled")).toBe("Cancelled")
    expect(await fs.readdir(server.directory)).not.toContain("cancel.gif")
    await page.close()
  })
})
