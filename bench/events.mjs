// What upload events cost an upload, measured on the bundle: run `npm run build && node bench/events.mjs`
// (N=300 uploads of 1 KiB per case by default). Cases: events logged only; a webhook that answers
// after 2 s (the upload path must not wait for it); a local pre-upload hook; and the time until a
// fast webhook has received every event.
import http from "node:http"
import { spawn } from "node:child_process"
import { createRequire } from "node:module"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
const require = createRequire(new URL("../package.json", import.meta.url))
const { WebSocket } = require("ws")

const receiver = (delayMs) => new Promise((resolve) => {
  const state = { count: 0 }
  const srv = http.createServer((req, res) => { req.resume(); req.on("end", () => { state.count++; setTimeout(() => { res.writeHead(200); res.end() }, delayMs) }) })
  srv.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${srv.address().port}/`, state, close: () => { srv.closeAllConnections(); srv.close() } }))
})

const start = async (env) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fr-bench-events-"))
  const child = spawn(process.execPath, ["dist/start.cjs"], { cwd: new URL("..", import.meta.url), env: { ...process.env, PORT: "0", REDIS_URL: "", RATE_LIMIT_PER_PERIOD: "1000000", FILE_SAVE_DIRECTORY: dir, ...env } })
  let out = ""; child.stdout.on("data", (d) => (out += d)); child.stderr.on("data", (d) => (out += d))
  const port = await new Promise((r) => { const i = setInterval(() => { const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out); if (m) { clearInterval(i); r(m[1]) } }, 20) })
  return { port, dir, stop: async () => { child.kill("SIGTERM"); await new Promise((r) => child.on("exit", r)); fs.rmSync(dir, { recursive: true, force: true }) } }
}

const uploads = async (port, n) => {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/file-transfer/`)
  await new Promise((r) => ws.on("open", r))
  const replies = []; let wake
  ws.on("message", (d) => { replies.push(JSON.parse(d.toString())); wake?.() })
  const next = () => new Promise((r) => { if (replies.length) return r(replies.shift()); wake = () => { wake = undefined; r(replies.shift()) } })
  const times = []
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint()
    ws.send(JSON.stringify({ type: "file_meta", file_name: `f${i}.txt`, file_size: 1024 }))
    await next()
    ws.send(JSON.stringify({ type: "file_chunk", chunk: Buffer.alloc(1024, 97).toString("base64") }))
    const done = await next()
    if (done.type !== "file_received") throw new Error(JSON.stringify(done))
    times.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  ws.close()
  times.sort((a, b) => a - b)
  return { median: times[Math.floor(n / 2)].toFixed(2), p95: times[Math.floor(n * 0.95)].toFixed(2) }
}

const N = Number(process.env.N ?? 300)
const results = {}
{ const s = await start({}); await uploads(s.port, 30); results["no events (log only)"] = await uploads(s.port, N); await s.stop() }
{ const slow = await receiver(2000); const s = await start({ WEBHOOK_URL: slow.url, WEBHOOK_SECRET: "x" }); await uploads(s.port, 30); results["webhook answering after 2 s"] = await uploads(s.port, N); await s.stop(); slow.close() }
{ const hook = await receiver(0); const s = await start({ PRE_UPLOAD_HOOK_URL: hook.url }); await uploads(s.port, 30); results["pre-upload hook (local, immediate)"] = await uploads(s.port, N); await s.stop(); hook.close() }
{
  const fast = await receiver(0); const s = await start({ WEBHOOK_URL: fast.url, WEBHOOK_SECRET: "x" })
  const t0 = Date.now(); await uploads(s.port, N)
  while (fast.state.count < N) await new Promise((r) => setTimeout(r, 10))
  results[`webhook: ${N} uploads until all ${N} events delivered (journal)`] = `${Date.now() - t0} ms`
  await s.stop(); fast.close()
}
console.log(JSON.stringify({ node: process.version, N, results }, null, 2))
