/**
 * The production start-up, `dist/start.cjs` (npm start, the image, the
 * benchmark), built the way `npm run build` builds it and run as a child
 * process: it serves, stops on SIGTERM, and sizes libuv's thread pool before
 * the pool starts. The pool is seen in the process's thread count
 * (/proc/<pid>/task), where libuv starts every pool thread at once.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { threadPoolSize } from "../../src/wiring/ThreadPool.js"
import { start } from "../support/process.js"

const root = path.resolve(import.meta.dirname, "../..")
let built = ""
let saveDirectory = ""

beforeAll(async () => {
  built = await fs.mkdtemp(path.join(os.tmpdir(), "fr-start-"))
  saveDirectory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-start-files-"))
  const { bundleServer } = (await import(path.join(root, "scripts/build.mjs"))) as {
    readonly bundleServer: (directory: string) => Promise<unknown>
  }
  // Laid out as in the repository and the image: dist/ beside public/, where the bundle finds the page.
  await bundleServer(path.join(built, "dist"))
  await fs.symlink(path.join(root, "public"), path.join(built, "public"))
}, 60_000)

afterAll(async () => {
  await fs.rm(built, { recursive: true, force: true })
  await fs.rm(saveDirectory, { recursive: true, force: true })
})

const hasTaskset = spawnSync("taskset", ["--version"], { stdio: "ignore" }).status === 0

/**
 * Starts dist/start.cjs from another directory with UV_THREADPOOL_SIZE set to `pool` (unset when undefined), on
 * `cores` CPUs only when given (taskset: os.availableParallelism() follows the affinity), and says how many threads
 * the process has once it listens.
 */
const threadsWith = async (pool: string | undefined, cores?: number) => {
  const server = await start(
    { FILE_SAVE_DIRECTORY: saveDirectory, UV_THREADPOOL_SIZE: pool },
    {
      args: [path.join(built, "dist", "start.cjs")],
      cwd: os.tmpdir(),
      ...(cores === undefined ? {} : { through: ["taskset", "-c", `0-${cores - 1}`] })
    }
  )
  try {
    expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200)
    return (await fs.readdir(`/proc/${server.pid}/task`)).length
  } finally {
    server.kill("SIGTERM")
    expect((await server.exited).code).toBe(0)
  }
}

describe.runIf(process.platform === "linux")("dist/start.cjs", { timeout: 60_000 }, () => {
  it("serves from any working directory, exits 0 on SIGTERM, and keeps the UV_THREADPOOL_SIZE it is given", async () => {
    const one = await threadsWith("1")
    const six = await threadsWith("6")
    expect(six - one).toBe(5)
  })

  it("gives libuv's pool one thread per core when UV_THREADPOOL_SIZE is unset, at least 2 and at most 4", async () => {
    const one = await threadsWith("1")
    const unset = await threadsWith(undefined)
    expect(unset - one).toBe(Number(threadPoolSize(undefined, os.availableParallelism())) - 1)
  })

  it.runIf(hasTaskset)("on one core, 2 threads rather than Node's 4", async () => {
    const one = await threadsWith("1", 1)
    const unset = await threadsWith(undefined, 1)
    expect(unset - one).toBe(1)
  })
})
