/**
 * Preloaded into a server by `npm run bench:alloc` (bench/alloc.ts), never
 * into production: the first SIGUSR2 starts V8's allocation tracker (every
 * allocation is recorded with its stack, not sampled), the second stops it
 * and writes the allocation trace (every allocation since the start, live or
 * collected, by stack) as JSON to ALLOC_OUT, then prints "allocation trace
 * written" on stderr. Tracking slows the process several times over: the
 * figures it gives are bytes and objects, not times.
 */
import { writeFileSync } from "node:fs"
import inspector from "node:inspector"

const session = new inspector.Session()
session.connect()
const post = (method, params = {}) =>
  new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))))

let tracking = false
process.on("SIGUSR2", () => {
  const step = tracking ? stop() : start()
  tracking = !tracking
  step.catch((error) => console.error(`allocation tracker failed: ${error}`))
})

const start = async () => {
  await post("HeapProfiler.enable")
  await post("HeapProfiler.startTrackingHeapObjects", { trackAllocations: true })
  console.error("allocation tracking started")
}

const stop = async () => {
  const chunks = []
  const onChunk = (message) => chunks.push(message.params.chunk)
  session.on("HeapProfiler.addHeapSnapshotChunk", onChunk)
  // Stopping takes a snapshot, which carries the trace: its function infos, its tree of stacks and their strings.
  await post("HeapProfiler.stopTrackingHeapObjects", { reportProgress: false })
  session.off("HeapProfiler.addHeapSnapshotChunk", onChunk)
  const snapshot = JSON.parse(chunks.join(""))
  writeFileSync(
    process.env["ALLOC_OUT"],
    JSON.stringify({
      meta: snapshot.snapshot.meta,
      infos: snapshot.trace_function_infos,
      tree: snapshot.trace_tree,
      strings: snapshot.strings
    })
  )
  console.error("allocation trace written")
}
