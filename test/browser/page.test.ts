/**
 * The upload page in a real browser (Debian's Chromium through
 * playwright-core) against the real server on a free port: a file is chosen,
 * uploaded in chunks over the WebSocket, and checked on disk.
 *
 * Without /usr/bin/chromium the suite is skipped locally, but fails in CI.
 */
import { ConfigProvider, Layer, ManagedRuntime } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { existsSync } from "node:fs"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ServerAddress } from "../../src/adapters/ws/WebSocketServer.js"
import * as Server from "../../src/Server.js"

const CHROMIUM = "/usr/bin/chromium"
const hasChromium = existsSync(CHROMIUM)
const inCI = process.env["CI"] === "true"

if (!hasChromium && !inCI) {
  console.warn(`Skipping browser tests: ${CHROMIUM} not found (install it with: apt-get install -y chromium)`)
}

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex")

describe.skipIf(!hasChromium && !inCI)("upload page (Chromium)", () => {
  let dir = ""
  let runtime: ManagedRuntime.ManagedRuntime<ServerAddress, unknown> | undefined
  let browser: Browser | undefined
  let baseUrl = ""

  beforeAll(async () => {
    if (!hasChromium) throw new Error(`${CHROMIUM} is missing; the browser tests cannot run in CI without it`)
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "file-receiver-page-"))
    runtime = ManagedRuntime.make(
      Server.layer.pipe(
        Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(
          new Map([["PORT", "0"], ["FILE_SAVE_DIRECTORY", dir]])
        )))
      )
    )
    const { port } = await runtime.runPromise(ServerAddress)
    baseUrl = `http://127.0.0.1:${port}/`
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
    })
  })

  afterAll(async () => {
    await browser?.close()
    await runtime?.dispose()
    if (dir !== "") await fs.rm(dir, { recursive: true, force: true })
  })

  /** Script errors and console errors seen on each page. */
  const problems = new WeakMap<Page, Array<string>>()
  const problemsOf = (page: Page): Array<string> => problems.get(page) ?? []

  /** A fresh page with the upload form loaded. */
  const openPage = async (): Promise<Page> => {
    if (browser === undefined) throw new Error("the browser did not start")
    const page = await browser.newPage()
    const seen: Array<string> = []
    problems.set(page, seen)
    page.on("pageerror", (error) => seen.push(error.message))
    page.on("console", (message) => {
      if (message.type() === "error") seen.push(message.text())
    })
    await page.goto(baseUrl)
    return page
  }

  /** The progress bar's current value and maximum (DOM properties, not attributes). */
  const progressOf = (page: Page) =>
    page.locator("#progress").evaluate((el) => {
      const bar = el as unknown as { readonly value: number; readonly max: number }
      return { value: bar.value, max: bar.max }
    })

  const upload = async (page: Page, name: string, mimeType: string, buffer: Buffer, state: "done" | "error") => {
    await page.locator("#file").setInputFiles({ name, mimeType, buffer })
    await page.locator("#upload").click()
    await page.locator(`#status[data-state="${state}"]`).waitFor({ timeout: 20_000 })
    return (await page.locator("#status").textContent()) ?? ""
  }

  it("uploads a ~700 KiB file in chunks and stores it unchanged", async () => {
    const page = await openPage()
    // A PNG head (signature, IHDR, start of IDAT) before the noise, so the content check sees a PNG.
    const bytes = randomBytes(700 * 1024 + 123)
    Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000000000000000000049444154", "hex").copy(bytes)
    const text = await upload(page, "photo.png", "image/png", bytes, "done")

    expect(text).toContain("received successfully")
    expect(text).toContain("photo.png")
    expect(await progressOf(page)).toEqual({ value: 100, max: 100 })
    const stored = await fs.readFile(path.join(dir, "photo.png"))
    expect(stored.length).toBe(bytes.length)
    expect(sha256(stored)).toBe(sha256(bytes))
    expect(await page.locator("#upload").isEnabled()).toBe(true)
    expect(problemsOf(page)).toEqual([])

    // PAGE_SCREENSHOT=/tmp/page.png saves how the page looks after the upload.
    const screenshot = process.env["PAGE_SCREENSHOT"]
    if (screenshot !== undefined && screenshot !== "") await page.screenshot({ path: screenshot, fullPage: true })
    await page.close()
  })

  it("shows the server's error for a file type that is not allowed", async () => {
    const page = await openPage()
    const text = await upload(page, "malware.exe", "application/octet-stream", Buffer.from("MZ not really"), "error")

    expect(text).toContain("Invalid file extension: exe")
    expect((await progressOf(page)).value).toBe(0)
    expect(await fs.readdir(dir)).not.toContain("malware.exe")
    await page.close()
  })

  it("completes an empty file", async () => {
    const page = await openPage()
    const text = await upload(page, "empty.txt", "text/plain", Buffer.alloc(0), "done")

    expect(text).toContain("empty.txt received successfully")
    expect(await progressOf(page)).toEqual({ value: 100, max: 100 })
    const stat = await fs.stat(path.join(dir, "empty.txt"))
    expect(stat.size).toBe(0)
    expect(problemsOf(page)).toEqual([])
    await page.close()
  })
})
