// Bundles the server into dist/main.mjs: one file, tree-shaken, run with plain `node`.
// Starting from source (`npm start`, tsx) needs no build; the bundle is what the
// container and the benchmark run, at a fraction of the memory.
import { build } from "esbuild"
import { rm } from "node:fs/promises"
import * as path from "node:path"

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

if (import.meta.url === `file://${process.argv[1]}`) {
  await bundle("src/main.ts", "dist/main.mjs")
  console.log("built dist/main.mjs")
}
