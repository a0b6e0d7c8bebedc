/**
 * The `file-receiver` command as a subprocess (`node bin/file-receiver.mjs`,
 * what the package's bin runs): uploads against the real server, exit codes,
 * --sha256, resume after a cut connection, Ctrl-C, and `serve`. It runs from
 * a directory outside the project, as `npx file-receiver` from elsewhere does,
 * with XDG_CACHE_HOME in a scratch directory (its resume state goes there).
 */
import { sampleFor } from "../support/content.js"
import { spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fileReceived, reply, startStandIn } from "../client/StandIn.js"
import { startProxy } from "../support/proxy.js"
import { scratchDirectory } from "../support/scratch.js"
import { eventually, type RunningServer, sha256, startServer } from "../support/server.js"
import { threadPoolSize } from "../../src/wiring/ThreadPool.js"

const root = path.resolve(import.meta.dirname, "../..")
const BIN = path.join(root, "bin/file-receiver.mjs")

interface Finished {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

const cache = scratchDirectory("fr-cli-cache-")

/** Runs the command to completion (stdout is a pipe, not a TTY: plain lines); `during` gets the child once started. */
const cli = (
  args: ReadonlyArray<string>,
  during?: (child: ReturnType<typeof spawn>, stdout: () => string) => void
): Promise<Finished> =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: os.tmpdir(),
      env: { ...process.env, XDG_CACHE_HOME: cache.path() },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = "", stderr = ""
    child.stdout.on("data", (data: Buffer) => (stdout += data.toString()))
    child.stderr.on("data", (data: Buffer) => (stderr += data.toString()))
    child.on("exit", (code) => resolve({ code, stdout, stderr }))
    during?.(child, () => stdout)
  })

let server: RunningServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server.stop())

const scratch = scratchDirectory("fr-cli-")
const scratchFile = scratch.write

describe("file-receiver upload", { timeout: 90_000 }, () => {
  it("uploads several files, prints where each was stored and exits 0", async () => {
    const a = sampleFor("a.txt", 300_000), b = sampleFor("b.pdf", 1_000_001)
    const result = await cli(["upload", await scratchFile("a.txt", a), await scratchFile("b.pdf", b), "--url", server.url])
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`a.txt: done: stored as a.txt (sha256 ${sha256(a)})`)
    expect(result.stdout).toContain(`b.pdf: done: stored as b.pdf (sha256 ${sha256(b)})`)
    expect(result.stdout).toContain("2 of 2 files uploaded")
    expect(sha256(await fs.readFile(path.join(server.directory, "b.pdf")))).toBe(sha256(b))
  })

  it("exits 1 when a file is refused, with the server's reason, and still sends the others", async () => {
    const result = await cli(["upload", await scratchFile("bad.exe", Buffer.from("x")), await scratchFile("good.png", sampleFor("good.png", 100)), "--url", server.url])
    expect(result.code).toBe(1)
    expect(result.stdout).toContain("bad.exe: failed: Invalid file extension: exe. Allowed: txt, pdf, png, jpg, jpeg, gif")
    expect(result.stdout).toContain("good.png: done")
    expect(result.stdout).toContain("1 of 2 files uploaded")
  })

  it("exits 1 for a file that does not exist, and 2 for a usage error", async () => {
    const missing = await cli(["upload", scratch.path("nope.txt"), "--url", server.url])
    expect(missing.code).toBe(1)
    expect(missing.stdout).toContain("nope.txt: failed: Cannot open")
    const usage = await cli(["upload", "--window", "zero"])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain("--window expects a positive integer")
    const directory = await cli(["upload", scratch.path(), "--url", server.url])
    expect(directory.code).toBe(1)
    expect(directory.stdout).toContain("is not a regular file")
  })

  it("prints control characters in file names and server messages as '?', never to the terminal", async () => {
    const result = await cli(["upload", await scratchFile("evil\u001b[2J.exe", Buffer.from("x")), "--url", server.url])
    expect(result.code).toBe(1)
    expect(result.stdout).not.toContain("\u001b")
    expect(result.stdout).toContain("evil?[2J.exe: failed: Invalid file extension: exe.")
  })

  it("exits 2 for a --url that is not a WebSocket URL, before sending anything", async () => {
    const file = await scratchFile("typo.txt", Buffer.from("x"))
    for (const url of ["127.0.0.1:8000", "ftp://host/", ""]) {
      const result = await cli(["upload", file, "--url", url])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain("--url expects a ws://, wss://, http:// or https:// URL")
      expect(result.stdout).toBe("")
    }
  })

  it("exits 130 soon after Ctrl-C, even when the server does not answer", async () => {
    const proxy = await startProxy(server.port)
    try {
      proxy.stallAfter(0)
      const started = Date.now()
      const result = await cli(["upload", await scratchFile("stuck.txt", sampleFor("stuck.txt", 100_000)), "--url", `ws://127.0.0.1:${proxy.port}/`], (child, stdout) => {
        const poll = setInterval(() => {
          if (stdout().includes("stuck.txt: starting")) {
            clearInterval(poll)
            setTimeout(() => child.kill("SIGINT"), 500)
          }
        }, 50)
      })
      expect(result.code).toBe(130)
      expect(result.stdout).toContain("stuck.txt: interrupted\n")
      expect(result.stdout).toContain("interrupted: no upload was kept on the server; run the same command again to send the files")
      expect(Date.now() - started).toBeLessThan(20_000)
    } finally {
      await proxy.close()
    }
  })

  it("--sha256 has the server check the digest it computed first", async () => {
    const bytes = sampleFor("hashed.jpg", 2 * 1024 * 1024)
    const result = await cli(["upload", await scratchFile("hashed.jpg", bytes), "--url", server.url, "--sha256"])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`sha256 ${sha256(bytes)}`)
  })

  it("resumes after the connection is cut mid-upload", async () => {
    const proxy = await startProxy(server.port)
    try {
      proxy.cutAfter(1024 * 1024)
      const bytes = sampleFor("cut.gif", 4 * 1024 * 1024)
      const result = await cli([
        "upload", await scratchFile("cut.gif", bytes), "--url", `ws://127.0.0.1:${proxy.port}/ws/file-transfer/`, "--chunk-size", "65536"
      ])
      expect(result.code).toBe(0)
      expect(result.stdout).toMatch(/cut\.gif: connection lost .*; retrying in/)
      expect(result.stdout).toContain("resumed 1x")
      expect(sha256(await fs.readFile(path.join(server.directory, "cut.gif")))).toBe(sha256(bytes))
    } finally {
      await proxy.close()
    }
  })

  it("reports a storage outage while it waits, and a resume answered with file_received as done (stand-in server)", async () => {
    const bytes = sampleFor("kept.txt", 3000)
    let held = 0
    const storageText = "Storage is unavailable: the upload was kept; retry later"
    // 1: receives every byte, cut before file_received; 2: its store is down; 3: the upload is complete.
    const standIn = await startStandIn((frame, ws, connection) => {
      if (frame.kind === "binary") {
        held += frame.bytes.length
        if (held === bytes.length) return ws.terminate()
        return reply(ws, { type: "chunk_received", message: "Ready for next chunk", received: held })
      }
      if (frame.message["type"] !== "file_meta") return
      if (connection === 1) {
        return reply(ws, { type: "meta_received", message: "Ready to receive file", binary_chunks: true, upload_id: "u1", offset: 0 })
      }
      if (connection === 2) return reply(ws, { type: "error", message: storageText, code: "storage_unavailable", retry_after: 0.1 })
      reply(ws, fileReceived("kept.txt", { sha256: sha256(bytes) }))
    })
    try {
      const result = await cli(["upload", await scratchFile("kept.txt", bytes), "--url", standIn.url, "--chunk-size", "1000"])
      expect(result.code).toBe(0)
      expect(result.stdout).toContain(`kept.txt: storage unavailable: ${storageText}; retrying in 0.1 s`)
      expect(result.stdout).toContain(`kept.txt: done: stored as kept.txt (sha256 ${sha256(bytes)}, resumed 2x)`)
      expect(standIn.frames).toHaveLength(3)
    } finally {
      await standIn.close()
    }
  })

  it("exits 1 when no server answers", async () => {
    const proxy = await startProxy(server.port)
    await proxy.close()
    const result = await cli(["upload", await scratchFile("lost.txt", Buffer.from("x")), "--url", `ws://127.0.0.1:${proxy.port}/ws/file-transfer/`, "--retries", "1"])
    expect(result.code).toBe(1)
    expect(result.stdout).toContain("lost.txt: failed: Gave up after 2 failed connections")
    const once = await cli(["upload", scratch.path("lost.txt"), "--url", `ws://127.0.0.1:${proxy.port}/`, "--retries", "0"])
    expect(once.code).toBe(1)
    expect(once.stdout).toContain("lost.txt: failed: Gave up after 1 failed connections")
  })
})

/** Calls `then` once `text` shows in the child's stdout. */
const whenPrinted = (stdout: () => string, text: string, then: () => void) => {
  const poll = setInterval(() => {
    if (stdout().includes(text)) {
      clearInterval(poll)
      then()
    }
  }, 20)
}

const stateFile = () => cache.path("file-receiver/uploads.json")
const stateEntries = async () => Object.keys(JSON.parse(await fs.readFile(stateFile(), "utf8")) as object)
const partialFiles = async () => (await fs.readdir(server.directory)).filter((name) => name.endsWith(".part")).sort()

describe("file-receiver upload across runs (state file in the user's cache)", { timeout: 90_000 }, () => {
  /** Starts `args` through a proxy that holds the server's replies after 1500 bytes, so the run is mid-upload when `stop` is sent. */
  const stopMidUpload = async (name: string, signal: NodeJS.Signals, extra: ReadonlyArray<string> = []) => {
    const proxy = await startProxy(server.port)
    const bytes = sampleFor(name, 2 * 1024 * 1024)
    const file = await scratchFile(name, bytes)
    const args = ["upload", file, "--url", `ws://127.0.0.1:${proxy.port}/ws/file-transfer/`, "--chunk-size", "65536", ...extra]
    proxy.stallAfter(1500) // the handshake, meta_received and a dozen acknowledgements; then the run waits
    const stopped = await cli(args, (child, stdout) => whenPrinted(stdout, `${name}: 25%`, () => child.kill(signal)))
    proxy.release()
    return { proxy, bytes, args, stopped }
  }

  it("a run killed with SIGKILL mid-upload is resumed by the same command: less than the whole file is sent again", async () => {
    const { proxy, bytes, args, stopped } = await stopMidUpload("killed.pdf", "SIGKILL")
    try {
      expect(stopped.code).toBeNull() // killed
      expect(await stateEntries()).toHaveLength(1)
      const rerun = await cli(args)
      expect(rerun.code).toBe(0)
      const resumed = /killed\.pdf: done: stored as killed\.pdf \(sha256 [0-9a-f]{64}, resumed from ([\d.]+) (KiB|MiB) sent by an earlier run\)/.exec(rerun.stdout)
      expect(resumed, rerun.stdout).not.toBeNull()
      expect(Number(resumed![1]) * (resumed![2] === "MiB" ? 1024 : 1)).toBeGreaterThanOrEqual(256)
      expect(rerun.stdout).not.toContain("killed.pdf: 0%") // its first progress is where the killed run stopped
      expect(sha256(await fs.readFile(path.join(server.directory, "killed.pdf")))).toBe(sha256(bytes))
      expect(await stateEntries()).toEqual([]) // the entry goes once the file is done
    } finally {
      await proxy.close()
    }
  })

  it("Ctrl-C keeps the upload on the server, exits 130 saying how to continue, and the same command resumes it", async () => {
    const { proxy, bytes, args, stopped } = await stopMidUpload("interrupted.gif", "SIGINT")
    try {
      expect(stopped.code).toBe(130)
      expect(stopped.stdout).toContain("interrupted.gif: interrupted: kept on the server\n")
      expect(stopped.stdout).toContain("interrupted: 1 upload kept on the server; run the same command again to resume\n")
      const rerun = await cli(args)
      expect(rerun.code).toBe(0)
      expect(rerun.stdout).toMatch(/interrupted\.gif: done: stored as interrupted\.gif \(sha256 [0-9a-f]{64}, resumed from [\d.]+ (KiB|MiB) sent by an earlier run\)/)
      expect(sha256(await fs.readFile(path.join(server.directory, "interrupted.gif")))).toBe(sha256(bytes))
    } finally {
      await proxy.close()
    }
  })

  it("with --cancel-on-interrupt, Ctrl-C discards the upload on the server and forgets it", async () => {
    const before = await partialFiles()
    const { proxy, stopped } = await stopMidUpload("discarded.jpg", "SIGINT", ["--cancel-on-interrupt"])
    try {
      expect(stopped.code).toBe(130)
      expect(stopped.stdout).toContain("discarded.jpg: cancelled: discarded on the server\n")
      expect(stopped.stdout).toContain("interrupted: the upload in progress was discarded on the server\n")
      await eventually(async () => expect(await partialFiles()).toEqual(before))
      expect(await stateEntries()).toEqual([])
    } finally {
      await proxy.close()
    }
  })

  it("a corrupt state file is ignored with a warning and replaced; the directory is 0700 and the file 0600", async () => {
    await fs.mkdir(path.dirname(stateFile()), { recursive: true })
    await fs.writeFile(stateFile(), "{not json")
    const result = await cli(["upload", await scratchFile("after-corrupt.txt", sampleFor("after-corrupt.txt", 1000)), "--url", server.url])
    expect(result.code).toBe(0)
    expect(result.stderr).toMatch(/^file-receiver: warning: ignoring .*uploads\.json: it is not a valid state file/)
    expect(result.stdout).toContain("after-corrupt.txt: done")
    expect(await stateEntries()).toEqual([])
    expect((await fs.stat(stateFile())).mode & 0o777).toBe(0o600)
    expect((await fs.stat(path.dirname(stateFile()))).mode & 0o777).toBe(0o700)
  })
})

describe("file-receiver upload: what it tells the user", { timeout: 90_000 }, () => {
  it("shows the stored name next to the one asked for when the server changed it", async () => {
    const result = await cli(["upload", await scratchFile("my résumé.txt", sampleFor("a.txt", 500)), "--url", server.url])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/my résumé\.txt: done: stored as myrésumé\.txt \(asked for "my résumé\.txt"; sha256 [0-9a-f]{64}\)/)
  })

  it("takes an http URL as its ws URL, and a page address pasted as --url fails at once saying which path to use", async () => {
    const file = await scratchFile("http.txt", sampleFor("http.txt", 500))
    const ok = await cli(["upload", file, "--url", `http://127.0.0.1:${server.port}/ws/file-transfer/`])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain("http.txt: done")
    const started = Date.now()
    const page = await cli(["upload", file, "--url", `http://127.0.0.1:${server.port}/`])
    expect(page.code).toBe(1)
    expect(page.stdout).toContain("http.txt: failed: The server refused the connection (HTTP 404): the path is wrong: the upload endpoint is /ws/file-transfer/")
    expect(page.stdout).not.toContain("retrying")
    expect(Date.now() - started).toBeLessThan(8000)
  })

  it("prints the wait a rate-limit refusal asks for, then resumes (stand-in server)", async () => {
    const bytes = sampleFor("limited.txt", 3000)
    let held = 0
    const standIn = await startStandIn((frame, ws, connection) => {
      if (frame.kind === "json") {
        if (frame.message["type"] !== "file_meta") return
        return reply(ws, { type: "meta_received", message: "Ready to receive file", binary_chunks: true, upload_id: "u1", offset: held, max_chunk_bytes: 1000 })
      }
      if (connection === 1 && held >= 1000) {
        reply(ws, { type: "error", message: "Rate limit exceeded", code: "rate_limited", retry_after: 1 })
        return ws.close(1008, "Rate limit exceeded")
      }
      held += frame.bytes.length
      reply(ws, held < bytes.length ? { type: "chunk_received", message: "Ready for next chunk", received: held } : fileReceived("limited.txt"))
    })
    try {
      const result = await cli(["upload", await scratchFile("limited.txt", bytes), "--url", standIn.url, "--window", "1", "--retries", "0"])
      expect(result.code).toBe(0)
      expect(result.stdout).toContain("limited.txt: waiting 1 s for the rate limit\n")
      expect(result.stdout).toContain("limited.txt: done: stored as limited.txt")
    } finally {
      await standIn.close()
    }
  })
})

describe("file-receiver serve", { timeout: 90_000 }, () => {
  it("starts the server from the environment, from the sources with npm start's V8 flags and thread pool, and exits 0 on SIGTERM", async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), "fr-cli-serve-"))
    const child = spawn(process.execPath, [BIN, "serve"], {
      cwd: os.tmpdir(),
      env: { ...process.env, REDIS_URL: "", PORT: "0", FILE_SAVE_DIRECTORY: dir, UV_THREADPOOL_SIZE: undefined },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve))
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.on("data", (data: Buffer) => {
        output += data.toString()
        const match = /listening on http:\/\/[^:]+:(\d+)/.exec(output)
        if (match) resolve(Number(match[1]))
      })
      void exited.then(() => reject(new Error(`exited before listening:\n${output}`)))
    })
    try {
      const health = await fetch(`http://127.0.0.1:${port}/healthz`)
      expect(health.status).toBe(200)
      if (process.platform === "linux") {
        // The server runs in the process the command started with the V8 flags, with npm start's thread pool.
        const [server] = (await fs.readFile(`/proc/${child.pid}/task/${child.pid}/children`, "utf8")).trim().split(/\s+/)
        const environment = (await fs.readFile(`/proc/${server}/environ`, "utf8")).split("\0")
        expect(environment).toContain(`UV_THREADPOOL_SIZE=${threadPoolSize(undefined, os.availableParallelism())}`)
      }
    } finally {
      // Stopped whatever the assertions said: a failed one must not leave the server running.
      child.kill("SIGTERM")
    }
    expect(await exited).toBe(0)
    await fs.rm(dir, { recursive: true, force: true })
  })
})
