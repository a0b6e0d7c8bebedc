/**
 * The hot paths' budget in bytes allocated on V8's heap (bench/alloc.ts
 * records every allocation with V8's allocation tracker): what a small
 * upload and a binary chunk cost the server, run as production runs it (the
 * bundle, built here from the sources, with the project's node flags) in a
 * child process. Bytes, not times: on this project's 1 MB young generation
 * (the memory targets' choice), the young collections a small upload pays
 * for follow its bytes, about 0.5 MB an upload and a third of its event
 * loop's time (docs/performance.md).
 * A change that allocates on every chunk or upload (a log line through
 * `Effect.annotateLogs`, a copy of a chunk) fails it; if the bytes are worth it, raise the budget in the same
 * change and say why. About 40 s.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { measureAllocations } from "../../bench/alloc.js"

const root = path.resolve(import.meta.dirname, "../..")

/**
 * Measured on Node 20.20.2 (2026-12-08): 473 KiB per small upload, 43-44 KiB per binary chunk, without what the
 * server allocates on its own meanwhile. About 9% of room: V8's object sizes move a little between versions, and log
 * lines built on Effect.annotateLogs again measure 527-546 KiB.
 */
const PER_SMALL_UPLOAD = 515 * 1024
const PER_BINARY_CHUNK = 56 * 1024

// The bundle goes into a folder of its own inside the repository, where it finds node_modules (and `bufferutil`)
// and, three folders up from dist/main.mjs, public/: another test may be building dist/ meanwhile.
let build: string | undefined
beforeAll(async () => {
  await mkdir(path.join(root, ".vitest-tmp"), { recursive: true })
  build = await mkdtemp(path.join(root, ".vitest-tmp", "alloc-"))
  const { bundleServer } = (await import(path.join(root, "scripts/build.mjs"))) as { readonly bundleServer: (directory: string) => Promise<void> }
  await bundleServer(path.join(build, "dist"))
}, 60_000)
afterAll(async () => {
  if (build !== undefined) await rm(build, { recursive: true, force: true })
})

describe("the hot paths' budget in bytes allocated", () => {
  it(`a 16 KiB upload allocates at most ${PER_SMALL_UPLOAD / 1024} KiB, a 256 KiB binary chunk at most ${PER_BINARY_CHUNK / 1024} KiB`, async () => {
    const report = await measureAllocations("project", { script: path.join(build!, "dist", "start.cjs"), uploads: 100, seed: false })
    expect(report.perSmallUpload.bytes).toBeLessThanOrEqual(PER_SMALL_UPLOAD)
    expect(report.perBinaryChunk.bytes).toBeLessThanOrEqual(PER_BINARY_CHUNK)
    // A floor too: a figure near zero means the tracker recorded nothing, not that the server got free.
    expect(report.perSmallUpload.bytes).toBeGreaterThan(100 * 1024)
    expect(report.perSmallUpload.objects).toBeGreaterThan(1_000)
  }, 120_000)
})
