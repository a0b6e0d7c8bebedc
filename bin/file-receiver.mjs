#!/usr/bin/env node
// The `file-receiver` command (package.json "bin"): runs the TypeScript CLI
// with plain node, through tsx's loader (a dependency), as `npm run dev` does.
// `serve` runs the server with npm run dev's V8 flags and npm start's thread
// pool (src/wiring/ThreadPool.ts), which node and libuv read only at start-up:
// the command starts itself again with them and passes signals on.
import { spawn } from "node:child_process"
import { availableParallelism } from "node:os"
import { fileURLToPath } from "node:url"
import { register } from "tsx/esm/api"

const HEAP_FLAGS = ["--initial-old-space-size=96", "--max-semi-space-size=1", "--heap-growing-percent=50"]

/** src/wiring/ThreadPool.ts's rule, in plain JavaScript so that this launcher needs no TypeScript (the CLI's test checks they agree). */
const threadPoolSize = (configured, cores) =>
  configured !== undefined && configured.trim() !== "" ? configured : String(Math.min(4, Math.max(2, Math.floor(cores))))

if (process.argv[2] === "serve" && !HEAP_FLAGS.every((flag) => process.execArgv.includes(flag))) {
  const child = spawn(process.execPath, [...HEAP_FLAGS, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
    stdio: "inherit",
    env: { ...process.env, UV_THREADPOOL_SIZE: threadPoolSize(process.env.UV_THREADPOOL_SIZE, availableParallelism()) }
  })
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal))
  child.on("exit", (code, signal) => process.exit(code ?? (signal === null ? 0 : 1)))
} else {
  register()
  await import("../src/cli/main.ts")
}
