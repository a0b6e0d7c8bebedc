/**
 * How the production server starts (`dist/start.cjs`: npm start, the image,
 * the benchmark): it sizes libuv's thread pool for the machine (see
 * wiring/ThreadPool), then loads the server, `dist/main.mjs`, beside it.
 * Started any other way (`node dist/main.mjs`, or with `NODE_OPTIONS=--import
 * ...`, which sends even a CommonJS entry through the ES module loader), the
 * pool keeps Node's default.
 *
 * It is built as CommonJS on purpose: libuv reads UV_THREADPOOL_SIZE only
 * when its pool starts, and Node's ES module loader starts it to read the
 * entry file, before any of that file runs. Node reads a CommonJS entry
 * synchronously, so this runs first.
 */
import { availableParallelism } from "node:os"
import * as path from "node:path"
import { pathToFileURL } from "node:url"
import { threadPoolSize } from "./wiring/ThreadPool.js"

// The environment itself, not effect's Config: libuv reads the variable from it, before any Effect runs.
process.env["UV_THREADPOOL_SIZE"] = threadPoolSize(process.env["UV_THREADPOOL_SIZE"], availableParallelism())
// `__dirname`: the output is CommonJS, where it is the directory of dist/start.cjs.
import(pathToFileURL(path.join(__dirname, "main.mjs")).href).catch((error: unknown) => {
  // Whatever node's --unhandled-rejections says: a server that could not be loaded did not start.
  console.error(error)
  process.exitCode = 1
})
