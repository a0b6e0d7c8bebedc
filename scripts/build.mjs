// Bundles the server into dist/main.mjs: one file, tree-shaken, run with plain `node` through dist/start.cjs.
// The bundle is what `npm start`, the container and the benchmark run, at half the
// memory of the sources through tsx (`npm run dev`). With `--if-stale` (npm start)
// it builds only when the bundle is missing or older than a source or the lockfile.
import { build } from "esbuild"
import { readdir, rm, stat } from "node:fs/promises"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

/** The newest modification time (ms) of the files under `directory`. */
const newest = async (directory) => {
  let latest = 0
  for (const entry of await readdir(directory, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    latest = Math.max(latest, (await stat(path.join(entry.parentPath ?? entry.path, entry.name))).mtimeMs)
  }
  return latest
}

/** Whether any of `outfiles` is missing or older than the sources they are built from. */
const stale = async (outfiles) => {
  const built = Math.min(...(await Promise.all(outfiles.map((outfile) => stat(outfile).then((info) => info.mtimeMs, () => 0)))))
  const inputs = await Promise.all([
    newest(path.join(ROOT, "src")),
    ...["package.json", "package-lock.json", "scripts/build.mjs"].map((file) => stat(path.join(ROOT, file)).then((info) => info.mtimeMs, () => 0))
  ])
  return built === 0 || inputs.some((time) => time > built)
}

// @effect/platform-node's HTTP server module imports its HTTP *client*, and
// with it undici (1 MB of code, ~10 MB of heap once evaluated). The server
// never makes HTTP requests through it, so the bundle gets an empty stand-in.
const withoutUndici = {
  name: "without-undici",
  setup(build) {
    build.onResolve({ filter: /^undici$/ }, () => ({ path: "undici", namespace: "unused" }))
    build.onLoad({ filter: /.*/, namespace: "unused" }, () => ({ contents: "export default {}", loader: "js" }))
  }
}

// Modules loaded by dynamic import (the Redis and S3 adapters, and the AWS SDK with the latter) go into
// chunks of their own, next to the entry point, so a default start neither loads nor parses them.
export const bundle = async (entryPoint, outfile) => {
  const name = path.basename(outfile, ".mjs")
  const chunks = `${name}-chunks`
  await rm(path.join(path.dirname(outfile), chunks), { recursive: true, force: true })
  return build({
    entryPoints: [entryPoint],
    outdir: path.dirname(outfile),
    entryNames: name,
    chunkNames: `${chunks}/[name]-[hash]`,
    outExtension: { ".js": ".mjs" },
    splitting: true,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    sourcemap: "linked",
    // Native addons ws loads when present; resolved from node_modules at run time.
    external: ["bufferutil", "utf-8-validate"],
    // Bundled CommonJS dependencies (ioredis) call require() for Node built-ins.
    banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
    plugins: [withoutUndici],
    logLevel: "warning"
  })
}

// The server's start-up file (src/start.ts): CommonJS, so that it runs before libuv's thread pool starts and can
// size it; it then imports main.mjs from its own directory.
const bundleStart = (outfile) =>
  build({
    entryPoints: [path.join(ROOT, "src/start.ts")],
    outfile,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    logLevel: "warning"
  })

/** The server into `directory`: main.mjs (with its chunks) and start.cjs, which starts it. */
export const bundleServer = async (directory) => {
  await bundle(path.join(ROOT, "src/main.ts"), path.join(directory, "main.mjs"))
  await bundleStart(path.join(directory, "start.cjs"))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dist = path.join(ROOT, "dist")
  if (process.argv.includes("--if-stale") && !(await stale([path.join(dist, "main.mjs"), path.join(dist, "start.cjs")]))) process.exit(0)
  await bundleServer(dist)
  console.log("built dist/main.mjs and dist/start.cjs")
}
