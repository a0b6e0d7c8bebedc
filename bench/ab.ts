/**
 * An A/B of small uploads between builds or settings (docs/performance.md's
 * small-file sections): each round starts every variant fresh in a new save
 * directory, uploads WARM files to warm it up, then measures N more (16 KiB
 * each in CHUNKS seed-protocol chunks, a connection each, 64 at a time), the
 * variants alternating. It prints, per upload, wall time, process CPU and
 * the CPU of the event loop's thread and of all the others (from
 * /proc/<pid>/task), and what creating a file costs in the directory.
 *
 *   npm run build && node --import tsx bench/ab.ts
 *   AB_VARIANTS='dist/start.cjs,dist/start.cjs|UV_THREADPOOL_SIZE=4,bench/.build/reference-ws.mjs' \
 *     AB_ROUNDS=5 node --import tsx bench/ab.ts
 *
 * A variant is a script node runs (the project's dist/start.cjs, or a copy
 * of dist/ inside the repository, such as .ab/base/dist beside a `public`
 * link; the reference once `npm run bench` has built it), then `|` and
 * `NAME=value` pairs joined by `;` for its environment; `NODE_FLAGS=a b` adds node flags, separated by spaces (commas
 * separate variants; the project's scripts also get its own V8 flags,
 * bench/'s servers node's defaults, as in the bench).
 * Each variant gets a free port in PORT and is ready once it accepts connections, so one
 * that logs nothing at info level (LOG_LEVEL=warn) is measured too. Linux only (/proc).
 * Every loop is bounded; traffic stays on loopback.
 *
 * A copy of dist/ outside the repository runs slower for a reason that has
 * nothing to do with its code: the bundle loads `ws`'s native `bufferutil`
 * from node_modules, and from /tmp there is none, so `ws` unmasks every
 * frame in JavaScript (a binary upload at about half the speed). The driver
 * refuses such a variant.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { createRequire } from "node:module"
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { type AddressInfo, connect, createServer } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { WebSocket } from "ws"
import { cpuSecondsIn, creationCost, environment, NODE_FLAGS, REPO_ROOT } from "./servers.js"

const number = (name: string, fallback: number): number => Number(process.env[name] ?? fallback)
const variants = (process.env["AB_VARIANTS"] ?? "dist/start.cjs,dist/start.cjs|UV_THREADPOOL_SIZE=4").split(",")
// Every variant must load the same native helpers (see the header): one that cannot find bufferutil is refused.
for (const variant of variants) {
  const script = path.resolve(REPO_ROOT, variant.split("|")[0] ?? "")
  try {
    createRequire(script).resolve("bufferutil")
  } catch {
    throw new Error(`${variant}: no bufferutil reachable from ${script} (put copies of dist/ inside the repository, e.g. .ab/base/dist)`)
  }
}
const rounds = number("AB_ROUNDS", 3)
const warm = number("AB_WARM", 500)
const measured = number("AB_N", 2000)
const chunks = number("AB_CHUNKS", 1)
const CONCURRENCY = 64
const CHUNK_BYTES = 16 * 1024
const chunk = JSON.stringify({ type: "file_chunk", chunk: Buffer.alloc(CHUNK_BYTES, 7).toString("base64") })

/** CPU milliseconds of each thread of `pid` so far, the event loop's (the thread whose id is the pid) as "main". */
const threadCpu = (pid: number): Map<string, number> => {
  const byThread = new Map<string, number>()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const key = tid === String(pid) ? "main" : "others"
    byThread.set(key, (byThread.get(key) ?? 0) + cpuSecondsIn(readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8")) * 1000)
  }
  return byThread
}

/** A port free on loopback now, for a variant that may log nothing at info level (LOG_LEVEL=warn). */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

/** Resolves once `port` on loopback accepts a connection; polls every 50 ms. */
const accepting = (port: number, stopped: () => boolean) =>
  new Promise<void>((resolve) => {
    const attempt = () => {
      if (stopped()) return
      const socket = connect(port, "127.0.0.1")
      socket.once("connect", () => {
        socket.destroy()
        resolve()
      })
      socket.once("error", () => {
        socket.destroy()
        setTimeout(attempt, 50)
      })
    }
    attempt()
  })

const start = (variant: string, directory: string, port: number) =>
  new Promise<{ readonly child: ChildProcess; readonly port: number }>((resolve, reject) => {
    const [script = "", settings = ""] = variant.split("|")
    const extra = Object.fromEntries(settings.split(";").filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1)]))
    const { NODE_FLAGS: flags, ...overrides } = extra
    // The bench's own servers run on node's defaults and their own environment, the project with its V8 flags and the
    // bench's limits, as in `npm run bench`.
    const kind = script.startsWith("bench/") ? "reference" : "project"
    const child = spawn(process.execPath, [...NODE_FLAGS[kind], ...(flags ?? "").split(" ").filter(Boolean), script], {
      cwd: REPO_ROOT,
      env: { ...environment(kind, directory), PORT: String(port), ...overrides },
      stdio: ["ignore", "pipe", "inherit"]
    })
    let settled = false
    const timer = setTimeout(() => {
      settled = true
      child.kill("SIGKILL")
      reject(new Error(`${variant} did not start`))
    }, 30_000)
    // Its output is drained (a pipe nobody reads would stop it), and it is ready once the port accepts connections.
    createInterface({ input: child.stdout! }).on("line", () => undefined)
    void accepting(port, () => settled).then(() => {
      settled = true
      clearTimeout(timer)
      resolve({ child, port })
    })
    child.once("exit", () => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      reject(new Error(`${variant} exited`))
    })
  })

const upload = (port: number, index: number) =>
  new Promise<void>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws/file-transfer/`)
    ws.on("open", () => ws.send(JSON.stringify({ type: "file_meta", file_name: `f${index}.pdf`, file_size: CHUNK_BYTES * chunks })))
    ws.on("message", (data: Buffer) => {
      const reply = JSON.parse(data.toString()) as { readonly type: string }
      if (reply.type === "meta_received" || reply.type === "chunk_received") ws.send(chunk)
      else if (reply.type === "file_received") ws.close()
      else {
        ws.close()
        reject(new Error(data.toString()))
      }
    })
    ws.on("close", () => resolve())
    ws.on("error", reject)
  })

const uploads = async (port: number, count: number, first: number) => {
  let next = 0
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (next < count) await upload(port, first + next++)
  }))
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length / 2
  return Number.isInteger(middle) ? ((sorted[middle - 1] ?? NaN) + (sorted[middle] ?? NaN)) / 2 : sorted[Math.floor(middle)] ?? NaN
}
const results = new Map<string, Array<{ readonly wall: number; readonly cpu: number; readonly main: number; readonly others: number }>>()
const ms = (value: number) => `${value.toFixed(2)} ms`

for (let round = 1; round <= rounds; round++) {
  for (const variant of round % 2 === 1 ? variants : [...variants].reverse()) {
    const directory = mkdtempSync(path.join(os.tmpdir(), "fr-ab-"))
    const probe = creationCost(directory)
    const { child, port } = await start(variant, directory, await freePort())
    await uploads(port, warm, 0)
    const before = threadCpu(child.pid!)
    const started = performance.now()
    await uploads(port, measured, warm)
    const wall = (performance.now() - started) / measured
    const after = threadCpu(child.pid!)
    const per = (key: string) => ((after.get(key) ?? 0) - (before.get(key) ?? 0)) / measured
    const row = { wall, cpu: per("main") + per("others"), main: per("main"), others: per("others") }
    results.set(variant, [...(results.get(variant) ?? []), row])
    console.log(`round ${round} ${variant}: wall ${ms(row.wall)}, CPU ${ms(row.cpu)} (event loop ${ms(row.main)}, others ${ms(row.others)}) per upload; a file creation there costs ${probe.toFixed(0)} µs`)
    child.kill("SIGTERM")
    await new Promise((resolve) => child.once("exit", resolve))
    rmSync(directory, { recursive: true, force: true })
  }
}
for (const [variant, rows] of results) {
  const of = (key: "wall" | "cpu" | "main" | "others") => ms(median(rows.map((row) => row[key])))
  console.log(`median ${variant}: wall ${of("wall")}, CPU ${of("cpu")} (event loop ${of("main")}, others ${of("others")}) per upload`)
}
