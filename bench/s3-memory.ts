/**
 * Peak memory of the server while it uploads a large file to S3 (not a
 * test: a measurement, `npm run bench:s3`). Starts s3rver on a temporary
 * folder in this process, builds the bundle, runs it as a child process with
 * STORAGE=s3 (default part size), uploads BENCH_S3_SIZE_MIB (1024) MiB over
 * one WebSocket (binary frames of 256 KiB, 8 in flight), reads the object
 * back from the bucket to check its sha256, and reports the throughput and
 * the server's VmHWM (peak resident set) at idle and after the upload; once
 * for each S3_PART_CONCURRENCY in BENCH_S3_CONCURRENCY ("1,4": one part in
 * flight, and the default), each on a fresh server.
 */
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { createInterface } from "node:readline"
import * as S3Bucket from "../src/adapters/s3/S3Bucket.js"
import { startS3rver } from "../test/support/s3rver.js"
import { MiB, sha256Of } from "./content.js"
import { memoryOf, NODE_FLAGS, REPO_ROOT } from "./servers.js"
import { uploadOverWs } from "./ws-client.js"

const sizeMiB = Number(process.env["BENCH_S3_SIZE_MIB"] ?? "1024")
const prefix = "bench/"
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`

const { bundleServer } = (await import(path.join(REPO_ROOT, "scripts/build.mjs"))) as {
  readonly bundleServer: (directory: string) => Promise<unknown>
}
await bundleServer(path.join(REPO_ROOT, "dist"))

const concurrencies = (process.env["BENCH_S3_CONCURRENCY"] ?? "1,4").split(",").map((text) => Number(text.trim()))
const s3 = await startS3rver("bench")

/** One upload of `sizeMiB` MiB to a fresh server with S3_PART_CONCURRENCY=`partConcurrency`. */
const measure = async (partConcurrency: number) => {
  const saveDirectory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-bench-s3-"))
  const child = spawn(process.execPath, [...NODE_FLAGS.project, "dist/start.cjs"], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      ...s3.env(prefix),
      S3_PART_CONCURRENCY: String(partConcurrency),
      REDIS_URL: "",
      PORT: "0",
      FILE_SAVE_DIRECTORY: saveDirectory,
      FILE_MAX_SIZE: String(sizeMiB + 1),
      FILE_ALLOWED_EXTENSIONS: "bin",
      RATE_LIMIT_PER_PERIOD: "1000000000",
      // The default byte limit (1 GiB a minute) would stop a 1 GiB upload; 0 lifts it.
      RATE_LIMIT_BYTES_PER_PERIOD: "0",
      LOG_LEVEL: "info",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true"
    },
    stdio: ["ignore", "pipe", "inherit"]
  })
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.once("exit", (code) => reject(new Error(`server exited (${code}) before listening`)))
      createInterface({ input: child.stdout! }).on("line", (line) => {
        const match = /listening on http:\/\/[^:]+:(\d+)/.exec(line)
        if (match) resolve(Number(match[1]))
      })
    })
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    const idle = await memoryOf(child.pid!)
    const payload = { seed: 7, size: sizeMiB * MiB }
    const expected = sha256Of(payload)
    const started = Date.now()
    const stored = await uploadOverWs(`ws://127.0.0.1:${port}/ws/file-transfer/`, {
      fileName: `large-${partConcurrency}.bin`,
      payload,
      chunkBytes: 256 * 1024,
      binary: true,
      window: 8,
      // Past 5 GiB the publish is a multipart copy; s3rver, without UploadPartCopy, streams it through the server.
      replyTimeoutMillis: 30 * 60_000
    })
    const seconds = (Date.now() - started) / 1000
    const after = await memoryOf(child.pid!)

    const bucket = S3Bucket.make(s3.settings(prefix))
    const hash = createHash("sha256")
    let size = 0
    for await (const bytes of (await bucket.read(stored)) as AsyncIterable<Buffer>) {
      hash.update(bytes)
      size += bytes.length
    }
    bucket.client.destroy()
    return {
      partConcurrency,
      sizeMiB,
      storedName: stored,
      storedBytes: size,
      sha256Matches: hash.digest("hex") === expected && size === sizeMiB * MiB,
      seconds,
      throughput: `${((sizeMiB * MiB) / 1e6 / seconds).toFixed(1)} MB/s`,
      idleVmHWM: mb(idle.vmHWM),
      uploadVmHWM: mb(after.vmHWM),
      node: process.version
    }
  } finally {
    child.kill("SIGTERM")
    await new Promise((resolve) => child.once("exit", resolve))
    await fs.rm(saveDirectory, { recursive: true, force: true })
  }
}

try {
  for (const partConcurrency of concurrencies) {
    const result = await measure(partConcurrency)
    console.log(JSON.stringify(result, null, 2))
    if (!result.sha256Matches) process.exitCode = 1
  }
} finally {
  await s3.stop()
}
