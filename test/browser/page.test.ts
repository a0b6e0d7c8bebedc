/**
 * The upload page in a real browser (Debian's Chromium through
 * playwright-core, see harness.ts) against the real server on a free port:
 * files are chosen, queued, uploaded over the WebSocket and checked on disk by
 * sha256; refused files show why next to their name; the overall progress
 * counts them; a renamed file shows its stored name; a connection cut
 * mid-upload resumes, and only real drops are counted.
 *
 * PAGE_SCREENSHOT=docs/upload-page.png (npm run screenshot) saves how the
 * page looks after an upload.
 */
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { expect, it } from "vitest"
import { eventually, samplePdf } from "../support/server.js"
import { describeInBrowser, dropGenerated, generated, item, outcome, progressOf, sha256, useBrowser } from "./harness.js"

describeInBrowser("upload page (Chromium)", { timeout: 90_000 }, () => {
  const h = useBrowser({ FILE_MAX_SIZE: "8", MAX_CHUNK_BYTES: String(256 * 1024) })
  const { openPage, problemsOf } = h

  it("shows the allowed extensions and the size limit before anything is sent", async () => {
    const page = await openPage()
    const limits = await page.locator("#limits").textContent()
    expect(limits).toContain("txt, pdf, png, jpg, jpeg, gif")
    expect(limits).toContain("up to 8 MiB per file")
    expect(await page.locator("#files").getAttribute("accept")).toBe(".txt,.pdf,.png,.jpg,.jpeg,.gif")
    expect(await page.locator("label[for=files]").count()).toBe(1)
    expect(await page.locator("#announcer").getAttribute("aria-live")).toBe("polite")
    await page.close()
  })

  it("is usable from the keyboard: Tab reaches the file picker and Enter opens it, several files at once", async () => {
    const page = await openPage()
    await page.keyboard.press("Tab")
    expect(await page.evaluate(() => document.activeElement?.id)).toBe("files")
    const opened = page.waitForEvent("filechooser")
    // Playwright asks the browser to intercept the picker without waiting for the answer; under load Enter
    // overtook that request once and the picker opened unseen. A round trip first gives it time to land.
    await page.evaluate(() => 0)
    await page.keyboard.press("Enter")
    const chooser = await opened
    expect(chooser.isMultiple()).toBe(true)
    await chooser.setFiles({ name: "typed.txt", mimeType: "text/plain", buffer: Buffer.from("from the keyboard") })
    expect(await outcome(page, "typed.txt", "done")).toContain("Uploaded as typed.txt")
    await page.close()
  })

  it("uploads two files from one choice and stores both unchanged; a refused type shows why and is not sent", async () => {
    const page = await openPage()
    // Content that matches each name: the server checks it (CONTENT_CHECK).
    const photo = randomBytes(700 * 1024 + 123)
    Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000000000000000000049444154", "hex").copy(photo)
    const report = samplePdf(2 * 1024 * 1024 + 7)
    await page.locator("#files").setInputFiles([
      { name: "photo.png", mimeType: "image/png", buffer: photo },
      { name: "report.pdf", mimeType: "application/pdf", buffer: report },
      { name: "malware.exe", mimeType: "application/octet-stream", buffer: Buffer.from("MZ not really") }
    ])

    expect(await outcome(page, "photo.png", "done")).toBe("Uploaded as photo.png · SHA-256 verified")
    expect(await outcome(page, "report.pdf", "done")).toBe("Uploaded as report.pdf · SHA-256 verified")
    expect(await item(page, "report.pdf").getAttribute("title")).toBe("File report.pdf received successfully and file extension is `pdf`")
    expect(await outcome(page, "malware.exe", "error")).toBe(
      "Invalid file extension: exe. Allowed: txt, pdf, png, jpg, jpeg, gif"
    )
    expect(await progressOf(page, "report.pdf")).toBe(100)
    expect(sha256(await fs.readFile(path.join(h.server.directory, "photo.png")))).toBe(sha256(photo))
    expect(sha256(await fs.readFile(path.join(h.server.directory, "report.pdf")))).toBe(sha256(report))
    expect(await fs.readdir(h.server.directory)).not.toContain("malware.exe")
    expect(await page.locator("#announcer").textContent()).not.toBe("")
    expect(problemsOf(page)).toEqual([])

    const screenshot = process.env["PAGE_SCREENSHOT"]
    if (screenshot !== undefined && screenshot !== "") {
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur()) // no focus ring in the picture
      await page.waitForTimeout(400) // the progress bars' width transition (0.2 s) ends
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

  it("refuses a file over the size limit before sending it, when dropped on the page", async () => {
    const page = await openPage(h.proxy.port)
    const connectionsBefore = h.proxy.connections()
    await dropGenerated(page, "huge.pdf", 9 * 1024 * 1024)
    expect(await outcome(page, "huge.pdf", "error")).toBe("File too large: 9437184 bytes exceeds the limit of 8 MiB")
    expect(h.proxy.connections()).toBe(connectionsBefore) // no WebSocket was opened for it
    expect(await fs.readdir(h.server.directory)).not.toContain("huge.pdf")
    await page.close()
  })

  it("resumes by itself when the connection drops mid-upload", async () => {
    const page = await openPage(h.proxy.port)
    const bytes = generated("resumed.jpg", 6 * 1024 * 1024)
    h.proxy.cutAfter(2 * 1024 * 1024)
    await dropGenerated(page, "resumed.jpg", bytes.length)

    expect(await outcome(page, "resumed.jpg", "done")).toContain("resumed after a dropped connection")
    expect(await item(page, "resumed.jpg").getAttribute("data-reconnects")).toBe("1")
    expect(sha256(await fs.readFile(path.join(h.server.directory, "resumed.jpg")))).toBe(sha256(bytes))
    expect(await fs.readdir(h.server.directory)).not.toContain("resumed_1.jpg")
    await page.close()
  })

  it("counts only real drops: attempts that could not connect while the server was unreachable are waits, not drops", async () => {
    const page = await openPage(h.proxy.port)
    const bytes = generated("flaky.jpg", 6 * 1024 * 1024)
    // Replies held back: the upload is still running when the connection goes.
    h.proxy.stallAfter(400)
    try {
      await dropGenerated(page, "flaky.jpg", bytes.length)
      await outcome(page, "flaky.jpg", "uploading")
      h.proxy.refuse(true) // cuts the connection (one drop); the attempts after it are reset before they open
    } finally {
      h.proxy.release()
    }
    try {
      // Each failed attempt is shown as a wait, with its reason and count.
      await item(page, "flaky.jpg").locator(".item-status", { hasText: /Connection lost; retrying in \d+ s \(attempt 3\)/ }).waitFor()
    } finally {
      h.proxy.refuse(false)
    }
    expect(await outcome(page, "flaky.jpg", "done")).toContain("resumed after a dropped connection")
    expect(await item(page, "flaky.jpg").getAttribute("data-reconnects")).toBe("1")
    expect(sha256(await fs.readFile(path.join(h.server.directory, "flaky.jpg")))).toBe(sha256(bytes))
    await page.close()
  })

  it("shows the stored name next to the chosen one when the server renames a file", async () => {
    const page = await openPage()
    const text = Buffer.from("curriculum vitae")
    await page.locator("#files").setInputFiles([
      { name: "my résumé.txt", mimeType: "text/plain", buffer: text },
      { name: "plain.txt", mimeType: "text/plain", buffer: Buffer.from("unchanged") }
    ])
    expect(await outcome(page, "my résumé.txt", "done")).toBe("Uploaded as myrésumé.txt · renamed by the server · SHA-256 verified")
    const renamed = item(page, "my résumé.txt")
    expect(await renamed.locator(".item-name").textContent()).toBe("my résumé.txt")
    expect(await renamed.locator(".item-stored").isVisible()).toBe(true)
    expect(await renamed.locator(".item-stored").textContent()).toBe("stored as myrésumé.txt")
    expect(await renamed.getAttribute("data-stored-name")).toBe("myrésumé.txt")
    expect(await fs.readFile(path.join(h.server.directory, "myrésumé.txt"))).toEqual(text)
    expect(await outcome(page, "plain.txt", "done")).toBe("Uploaded as plain.txt · SHA-256 verified")
    expect(await item(page, "plain.txt").locator(".item-stored").isVisible()).toBe(false)
    await page.close()
  })

  it("shows the overall progress: files uploaded of those chosen, failures, bytes", async () => {
    const page = await openPage(h.proxy.port)
    const overall = page.locator("#overall")
    expect(await overall.isVisible()).toBe(false)
    h.proxy.stallAfter(400)
    try {
      await page.locator("#files").setInputFiles([
        { name: "first.pdf", mimeType: "application/pdf", buffer: samplePdf(3 * 1024 * 1024) },
        { name: "second.pdf", mimeType: "application/pdf", buffer: samplePdf(1024 * 1024) },
        { name: "refused.exe", mimeType: "application/octet-stream", buffer: Buffer.from("MZ") }
      ])
      await outcome(page, "first.pdf", "uploading")
      expect(await overall.textContent()).toMatch(/^0 of 3 files uploaded · 1 failed · .+ of 4 MiB$/)
    } finally {
      h.proxy.release()
    }
    await outcome(page, "second.pdf", "done")
    expect(await overall.textContent()).toBe("2 of 3 files uploaded · 1 failed · 4 MiB of 4 MiB")
    expect(await page.locator("#overall-progress").evaluate((el) => (el as unknown as { readonly value: number }).value)).toBe(100)
    await page.locator("#clear").click()
    expect(await overall.isVisible()).toBe(false)
    await page.close()
  })

  it("completes an empty file", async () => {
    const page = await openPage()
    await page.locator("#files").setInputFiles({ name: "empty.txt", mimeType: "text/plain", buffer: Buffer.alloc(0) })
    expect(await outcome(page, "empty.txt", "done")).toBe("Uploaded as empty.txt · SHA-256 verified")
    expect((await fs.stat(path.join(h.server.directory, "empty.txt"))).size).toBe(0)
    expect(problemsOf(page)).toEqual([])
    await page.close()
  })

  it("cancels a file from the keyboard while it uploads, and the server discards it", async () => {
    const page = await openPage(h.proxy.port)
    // The server's replies stop after the first few acknowledgements: the page waits with chunks in flight.
    h.proxy.stallAfter(400)
    try {
      await dropGenerated(page, "cancel.gif", 7 * 1024 * 1024)
      await item(page, "cancel.gif").and(page.locator(`[data-state="uploading"]`)).waitFor({ timeout: 30_000 })
      await item(page, "cancel.gif").locator(".item-cancel").focus()
      await page.keyboard.press("Enter")
      expect(await outcome(page, "cancel.gif", "cancelled")).toBe("Cancelled")
      // The Cancel button is gone; keyboard focus stays on the file rather than falling back to the page.
      expect(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset["name"])).toBe("cancel.gif")
    } finally {
      h.proxy.release()
    }
    await eventually(async () => expect((await fs.readdir(h.server.directory)).filter((name) => name.endsWith(".part"))).toEqual([]))
    expect(await fs.readdir(h.server.directory)).not.toContain("cancel.gif")
    await page.close()
  })
})
