/**
 * The HTTP side of the upload page against the real server: the limits it
 * shows come from the configuration (GET /config.json, nothing else), the
 * script is served as JavaScript, and the page's CSP lets only that script run.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "../support/server.js"

let server: RunningServer
beforeAll(async () => {
  server = await startServer({ FILE_MAX_SIZE: "3", FILE_ALLOWED_EXTENSIONS: "csv,PDF", MAX_CHUNK_BYTES: "65536" })
})
afterAll(() => server.stop())

const get = (path: string) => fetch(`http://127.0.0.1:${server.port}${path}`)

describe("upload page endpoints", () => {
  it("GET /config.json gives the configured limits and nothing else", async () => {
    const response = await get("/config.json")
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      max_file_bytes: 3 * 1024 * 1024,
      max_chunk_bytes: 65536,
      allowed_extensions: ["csv", "pdf"],
      upload_path: "/ws/file-transfer/",
      auth_required: false
    })
  })

  it("GET /app.js serves the page's script, and the page's CSP allows only scripts from the server itself", async () => {
    const script = await get("/app.js")
    expect(script.status).toBe(200)
    expect(script.headers.get("content-type")).toContain("text/javascript")
    expect(await script.text()).toContain("/config.json")
    const page = await get("/")
    const csp = page.headers.get("content-security-policy") ?? ""
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain("script-src 'unsafe-inline'")
    expect(await page.text()).toContain(`<script type="module" src="/app.js"></script>`)
  })
})
