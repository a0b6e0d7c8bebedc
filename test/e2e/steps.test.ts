/**
 * The hot paths' budget in steps of Effect's run loop (bench/steps.ts counts
 * them with a Supervisor): what a chunk and a small upload cost the server,
 * counted rather than timed, so the test hardly depends on the machine (a
 * few steps move with timing: whether the next frame has arrived when the
 * session asks for it; 64 chunks average that out).
 * A change that adds steps to every chunk or upload (a generator, an
 * `Effect.annotateLogs`, a `locally`) fails it; if the steps are worth it,
 * raise the budget in the same change and say why (docs/performance.md).
 */
import { describe, expect, it } from "vitest"
import { measureSteps } from "../../bench/steps.js"

/** Measured 74-79 per chunk and 560 per small upload (2026-12-08); 87 and 651 before LogLines and MetricUpdates. */
const PER_CHUNK = 84
const PER_SMALL_UPLOAD = 600

describe("the hot paths' budget in Effect steps", () => {
  it(`a 256 KiB chunk costs at most ${PER_CHUNK} steps, a 16 KiB upload at most ${PER_SMALL_UPLOAD}, one fiber`, async () => {
    const counts = await measureSteps({ smallUploads: 40, chunks: 64 })
    expect(counts.perSeedChunk).toBeLessThanOrEqual(PER_CHUNK)
    expect(counts.perBinaryChunk).toBeLessThanOrEqual(PER_CHUNK)
    expect(counts.perSmallUpload).toBeLessThanOrEqual(PER_SMALL_UPLOAD)
    // A sweep on its timer (the expiry sweep, once a minute) may start a fiber of its own meanwhile.
    expect(counts.fibersPerSmallUpload).toBeLessThanOrEqual(1.1)
    // A floor too: a count near zero means the counter stopped counting, not that the server got free.
    expect(counts.perSeedChunk).toBeGreaterThan(20)
    expect(counts.perSmallUpload).toBeGreaterThan(100)
  }, 60_000)
})
