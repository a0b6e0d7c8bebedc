/**
 * Uppy (core, Tus, Dashboard) in Chromium uploads to `/files/` from a page on
 * another origin, as a site embedding the uploader would: the page, bundled
 * from fixtures/uppy-page.ts, is served by a plain `http` server on its own
 * port. ALLOWED_ORIGINS lists that origin, so the uploads (CORS preflights
 * included) go through and are stored unchanged; a second page server, an
 * origin not listed, is refused and nothing of its files is stored.
 */
import * as esbuild from "esbuild"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, expect, it } from "vitest"
import { listDirectory, samplePdf, sampleText } from "../support/server.js"
import type { FileToSend, UploadReport, UploadRequest } from "./fixtures/uppy-page.js"
import { describeInBrowser, sha256, useBrowser } from "./harness.js"

const PAGE_ENTRY = fileURLToPath(new URL("./fixtures/uppy-page.ts", import.meta.url))
const PAGE_HTML = `<!doctype html><meta charset="utf-8"><title>Uppy</title><link rel="icon" href="data:,"><h1>Files for another site</h1><div id="uppy"></div><script type="module" src="/uppy-page.js"></script>`

interface PageServer {
  readonly port: number
  readonly origin: string
  readonly close: () => Promise<void>
}

/** A plain `http` server for the page (`/`) and its script (`/uppy-page.js`) on a free port of 127.0.0.1. */
const servePage = async (script: string): Promise<PageServer> => {
  const server = http.createServer((request, response) => {
    const [type, body] = request.url === "/uppy-page.js" ? ["text/javascript", script] : request.url === "/" ? ["text/html", PAGE_HTML] : []
    response.writeHead(body === undefined ? 404 : 200, { "Content-Type": `${type ?? "text/plain"}; charset=utf-8` })
    response.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve()))
  }
}

const bundlePage = async (): Promise<string> => {
  const result = await esbuild.build({
    entryPoints: [PAGE_ENTRY],
    // Named only so that the script is told from any CSS; with write: false nothing is written.
    outfile: "uppy-page.js",
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: ["chrome100"],
    logLevel: "silent"
  })
  const script = result.outputFiles.find((file) => file.path.endsWith(".js"))
  if (script === undefined) throw new Error("esbuild gave no script for the Uppy page")
  return script.text
}

const toSend = (name: string, type: string, bytes: Uint8Array, chunkSize?: number): FileToSend => ({
  name,
  type,
  base64: Buffer.from(bytes).toString("base64"),
  ...(chunkSize === undefined ? {} : { chunkSize })
})

describeInBrowser("Uppy from another origin (Chromium)", { timeout: 60_000 }, () => {
  let allowedPage: PageServer | undefined
  let otherPage: PageServer | undefined
  // Filled by the hook below, which runs before useBrowser's: the server starts knowing the page's origin.
  const env: Record<string, string> = {}

  beforeAll(async () => {
    const script = await bundlePage()
    allowedPage = await servePage(script)
    otherPage = await servePage(script)
    env["ALLOWED_ORIGINS"] = allowedPage.origin
  }, 60_000)

  afterAll(async () => {
    await allowedPage?.close()
    await otherPage?.close()
  })

  const h = useBrowser(env)

  const pageOf = (server: PageServer | undefined): PageServer => {
    if (server === undefined) throw new Error("the page servers did not start")
    return server
  }

  /** Opens the page served from `origin` and has Uppy upload `files` to the server's `/files/`. */
  const uploadFrom = async (origin: PageServer | undefined, files: ReadonlyArray<FileToSend>) => {
    const page = await h.openPage(pageOf(origin).port)
    const request: UploadRequest = { endpoint: `http://127.0.0.1:${h.server.port}/files/`, files }
    const report: UploadReport = await page.evaluate((request) => window.uploadWithUppy(request), request)
    const listed = await page.locator(".uppy-Dashboard-Item-name").allTextContents()
    return { page, report, listed }
  }

  it("uploads two files from an allowed origin, stored byte for byte, each HEAD telling its full offset and sha256", async () => {
    // Text cut into 4 KiB PATCHes, so chunks end inside multi-byte characters; a PDF in one PATCH.
    const text = Buffer.from(`${sampleText(40 * 1024).toString()} — héllo, Uppy ✓\n`.repeat(2))
    const pdf = samplePdf(300 * 1024 + 7)
    const sent = new Map([["a.txt", text], ["b.pdf", pdf]])
    const { page, report, listed } = await uploadFrom(allowedPage, [
      toSend("a.txt", "text/plain", text, 4 * 1024),
      toSend("b.pdf", "application/pdf", pdf)
    ])

    expect(report.failed).toEqual([])
    expect(report.successful.map((file) => file.name).sort()).toEqual(["a.txt", "b.pdf"])
    expect(listed.sort()).toEqual(["a.txt", "b.pdf"])
    for (const file of report.successful) {
      const bytes = sent.get(file.name)!
      expect(file.uploadURL).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${h.server.port}/files/.+`))
      const head = await fetch(file.uploadURL!, { method: "HEAD", headers: { "Tus-Resumable": "1.0.0" }, signal: AbortSignal.timeout(5_000) })
      expect(head.status).toBe(200)
      expect(head.headers.get("Upload-Offset")).toBe(String(bytes.length))
      expect(head.headers.get("Upload-Length")).toBe(String(bytes.length))
      expect(head.headers.get("File-Receiver-Sha256")).toBe(sha256(bytes))
      const storedName = head.headers.get("File-Receiver-Stored-Name")
      expect(storedName).toBe(file.name)
      expect(sha256(await fs.readFile(path.join(h.server.directory, storedName!)))).toBe(sha256(bytes))
    }
    expect(h.problemsOf(page)).toEqual([])
    await page.close()
  })

  it("refuses a page on an origin ALLOWED_ORIGINS does not list: Uppy reports both files failed and nothing is stored", async () => {
    const before = await listDirectory(h.server.directory)
    const text = sampleText(1024)
    const { page, report } = await uploadFrom(otherPage, [
      toSend("c.txt", "text/plain", text),
      toSend("d.pdf", "application/pdf", samplePdf(20 * 1024))
    ])

    expect(report.successful).toEqual([])
    expect(report.failed.map((file) => file.name).sort()).toEqual(["c.txt", "d.pdf"])
    for (const file of report.failed) expect(file.uploadURL).toBeUndefined()
    expect(await listDirectory(h.server.directory)).toEqual(before)
    await page.close()
  })
})
