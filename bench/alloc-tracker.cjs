/**
 * Preloaded into a server by `npm run bench:alloc` (bench/alloc.ts) with
 * `--require`, never into production: the first SIGUSR2 starts V8's
 * allocation tracker (every allocation is recorded with its stack, not
 * sampled), the next stops it and writes the allocation trace (every
 * allocation since the start, live or collected, by stack) as JSON to
 * ALLOC_OUT, then prints "allocation trace written" on stderr; and so on.
 * A failure prints "allocation tracker failed: ..." instead. Tracking slows
 * the process several times over: the figures it gives are bytes and
 * objects, not times.
 *
 * CommonJS, preloaded with --require: an --import preload would load the
 * server's start.cjs through the ES module loader, which starts libuv's
 * thread pool before start.cjs sizes it (src/start.ts).
 */
"use strict"
const { writeFileSync } = require("node:fs")
const inspector = require("node:inspector")

const session = new inspector.Session()
session.connect()
const post = (method, params = {}) =>
  new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))))

const start = async () => {
  await post("HeapProfiler.enable")
  await post("HeapProfiler.startTrackingHeapObjects", { trackAllocations: true })
  console.error("allocation tracking started")
}

const stop = async () => {
  const chunks = []
  const onChunk = (message) => chunks.push(message.params.chunk)
  session.on("HeapProfiler.addHeapSnapshotChunk", onChunk)
  try {
    // Stopping takes a snapshot, which carries the trace: its function infos, its tree of stacks and their strings.
    await post("HeapProfiler.stopTrackingHeapObjects", { reportProgress: false })
  } finally {
    session.off("HeapProfiler.addHeapSnapshotChunk", onChunk)
  }
  const snapshot = JSON.parse(chunks.join(""))
  writeFileSync(
    process.env["ALLOC_OUT"],
    JSON.stringify({ meta: snapshot.snapshot.meta, infos: snapshot.trace_function_infos, tree: snapshot.trace_tree, strings: snapshot.strings })
  )
  console.error("allocation trace written")
}

let tracking = false
process.on("SIGUSR2", () => {
  // The state flips only once a step has worked, so a failed start is retried by the next signal, not stopped.
  ;(tracking ? stop() : start()).then(
    () => {
      tracking = !tracking
    },
    (error) => console.error(`allocation tracker failed: ${error}`)
  )
})
