/**
 * What the server allocates on V8's heap per small upload and per chunk,
 * byte for byte, for the project and for the plain `ws` reference: each runs
 * as the bench runs it (its bundle, its node flags, its environment), with
 * bench/alloc-tracker.mjs preloaded, which records every allocation with its
 * stack between two signals (not a sample: the sampling heap profiler's
 * attribution is moved around by inlining). Every allocation counts, whether
 * it is still alive or was collected; the tracker's own messages do not.
 *
 * Why: the small-files scenario spends a third of its event loop's time in
 * young-generation collections, and the number of collections follows the
 * bytes allocated per upload. These are counts, not times: they repeat to
 * within a few percent, so they show what a change to a hot path saves
 * (docs/performance.md).
 *
 *   npm run bench:alloc                 # both servers, small uploads and chunks
 *   ALLOC_TOP=30 npm run bench:alloc    # more of the sites
 *
 * The sites: each allocation is put down to the innermost frame of the
 * server's own code on its stack (src/ for the project, the reference's
 * file for it), or, with none, to the package whose code made it: for the
 * project that is mostly Effect's run loop between two of its steps. Every
 * loop is bounded; traffic stays on loopback.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises"
import { SourceMap } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { CHUNK_BYTES } from "./scenarios.js"
import { buildServers, REPO_ROOT, type RunningServer, type ServerKind, startServer } from "./servers.js"
import { uploadOverWs } from "./ws-client.js"

const SMALL_BYTES = 16 * 1024
const WARM_UPLOADS = 300
const SMALL_UPLOADS = 200
const CONCURRENCY = 64
const CHUNKS = 32
const TOP = Number(process.env["ALLOC_TOP"] ?? 12)
const SIGNAL_TIMEOUT_MILLIS = 300_000
const TRACKER = path.join(REPO_ROOT, "bench/alloc-tracker.mjs")

interface Trace {
  readonly meta: {
    readonly trace_function_info_fields: ReadonlyArray<string>
    readonly trace_node_fields: ReadonlyArray<string>
  }
  readonly infos: ReadonlyArray<number>
  readonly tree: ReadonlyArray<number | ReadonlyArray<unknown>>
  readonly strings: ReadonlyArray<string>
}

export interface Allocations {
  readonly bytes: number
  readonly objects: number
  /** Bytes by site (see the header), largest first. */
  readonly sites: ReadonlyArray<readonly [site: string, bytes: number]>
  /** Bytes by the package of the function that allocated them. */
  readonly packages: ReadonlyArray<readonly [name: string, bytes: number]>
}

const packageOf = (script: string): string => {
  if (script === "") return "V8 builtins"
  if (script.startsWith("node:")) return "node"
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(script)
  return match !== null ? match[1]! : "own code"
}

/** Reads a trace: bytes and objects, by site and by package, with positions in bundles mapped to their sources. */
const analyse = async (file: string): Promise<Allocations> => {
  const trace = JSON.parse(await readFile(file, "utf8")) as Trace
  const infoFields = trace.meta.trace_function_info_fields
  const nodeFields = trace.meta.trace_node_fields
  const [iName, iScript, iLine, iColumn] = ["name", "script_name", "line", "column"].map((f) => infoFields.indexOf(f))
  const [iInfo, iCount, iSize, iChildren] = ["function_info_index", "count", "size", "children"].map((f) => nodeFields.indexOf(f))
  const maps = new Map<string, SourceMap | undefined>()
  const mapOf = async (script: string) => {
    if (!maps.has(script)) {
      const file = script.replace(/^file:\/\//, "")
      maps.set(script, await readFile(`${file}.map`, "utf8").then((text) => new SourceMap(JSON.parse(text)), () => undefined))
    }
    return maps.get(script)
  }
  interface Frame {
    readonly label: string
    readonly own: boolean
    readonly inspector: boolean
    readonly pkg: string
  }
  const frames: Array<Frame> = []
  for (let index = 0; index * infoFields.length < trace.infos.length; index++) {
    const at = index * infoFields.length
    const name = trace.strings[trace.infos[at + iName!]!] || "(anonymous)"
    const script = trace.strings[trace.infos[at + iScript!]!] ?? ""
    const line = trace.infos[at + iLine!]!
    const column = trace.infos[at + iColumn!]!
    let source = script
    let sourceLine = line + 1
    const map = script.endsWith(".mjs") || script.endsWith(".cjs") ? await mapOf(script) : undefined
    // findEntry returns {} where the map has no entry.
    const entry = map !== undefined && line >= 0 ? (map.findEntry(line, column) as Partial<{ originalSource: string; originalLine: number }>) : {}
    if (entry.originalSource !== undefined && entry.originalLine !== undefined) {
      source = entry.originalSource
      sourceLine = entry.originalLine + 1
    }
    const pkg = packageOf(source)
    const short = source.replace(/^.*node_modules\//, "").replace(/^(\.\.\/)+/, "").replace(`${REPO_ROOT}/`, "")
    frames.push({ label: `${name} (${short}:${sourceLine})`, own: pkg === "own code", inspector: source === "node:inspector", pkg })
  }
  const sites = new Map<string, number>()
  const packages = new Map<string, number>()
  let bytes = 0
  let objects = 0
  // Depth first, with the innermost own frame and whether the tracker is on the stack carried down.
  const walk = (nodes: ReadonlyArray<unknown>, own: Frame | undefined, inspector: boolean) => {
    for (let at = 0; at < nodes.length; at += nodeFields.length) {
      const frame = frames[nodes[at + iInfo!] as number]!
      const innermost = frame.own ? frame : own
      const underTracker = inspector || frame.inspector
      const size = nodes[at + iSize!] as number
      if (size > 0 && !underTracker) {
        bytes += size
        objects += nodes[at + iCount!] as number
        const site = innermost?.label ?? `(no own frame: ${frame.pkg})`
        sites.set(site, (sites.get(site) ?? 0) + size)
        packages.set(frame.pkg, (packages.get(frame.pkg) ?? 0) + size)
      }
      walk(nodes[at + iChildren!] as ReadonlyArray<unknown>, innermost, underTracker)
    }
  }
  walk(trace.tree, undefined, false)
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1])
  return { bytes, objects, sites: sorted(sites), packages: sorted(packages) }
}

/** A server with the tracker, whose allocations between `start` and `stop` are read by `stop`. */
const trackedServer = async (kind: ServerKind, directory: string, script: ReadonlyArray<string> | undefined) => {
  const out = path.join(directory, "..", `trace-${kind}.json`)
  const waiting = new Map<string, () => void>()
  const server: RunningServer = await startServer(kind, directory, {
    nodeFlags: ["--import", TRACKER],
    ...(script === undefined ? {} : { script }),
    env: { ALLOC_OUT: out },
    onStderr: (line) => waiting.get(line)?.()
  })
  const signal = (awaited: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${kind}: no "${awaited}" within ${SIGNAL_TIMEOUT_MILLIS} ms`)), SIGNAL_TIMEOUT_MILLIS)
      waiting.set(awaited, () => {
        clearTimeout(timer)
        waiting.delete(awaited)
        resolve()
      })
      process.kill(server.pid, "SIGUSR2")
    })
  return {
    server,
    /** Runs `work` with the tracker on and returns what the server allocated meanwhile. */
    tracked: async (work: () => Promise<unknown>): Promise<Allocations> => {
      await signal("allocation tracking started")
      await work()
      // Let the server finish what follows the last reply (closes, finalizers) before the tracker stops.
      await new Promise((resolve) => setTimeout(resolve, 500))
      await signal("allocation trace written")
      return analyse(out)
    }
  }
}

const inBatches = async (count: number, concurrency: number, run: (index: number) => Promise<unknown>) => {
  let next = 0
  const worker = async () => {
    while (next < count) await run(next++)
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

export interface AllocationReport {
  readonly perSmallUpload: Allocations & { readonly uploads: number }
  /** Bytes and objects per 256 KiB chunk once an upload is open: (CHUNKS + 1 chunks) − (1 chunk), over CHUNKS. */
  readonly perSeedChunk: { readonly bytes: number; readonly objects: number }
  readonly perBinaryChunk: { readonly bytes: number; readonly objects: number }
}

/**
 * Measures `kind`: `uploads` small uploads as scenario 6 sends them (16 KiB, a connection each, 64 at a time), then
 * chunks. `script` is what node runs instead of the bench's bundle (say, a bundle built elsewhere). Not the sources
 * through tsx: its transform names every function as it is made (esbuild's keepNames), which allocates, about 30 KB
 * more per small upload and 25 KB more per chunk.
 */
export const measureAllocations = async (
  kind: ServerKind,
  { script, uploads = SMALL_UPLOADS }: { readonly uploads?: number; readonly script?: ReadonlyArray<string> } = {}
): Promise<AllocationReport> => {
  const root = await mkdtemp(path.join(os.tmpdir(), "fr-alloc-"))
  const directory = path.join(root, "files")
  await import("node:fs/promises").then((fs) => fs.mkdir(directory))
  const { server, tracked } = await trackedServer(kind, directory, script)
  try {
    const upload = (name: string, size: number, binary: boolean, chunkBytes = CHUNK_BYTES) =>
      uploadOverWs(server.url, { fileName: `${name}.pdf`, payload: { seed: size, size }, chunkBytes, binary, window: 1 })
    const small = (prefix: string, count: number) =>
      inBatches(count, CONCURRENCY, (index) => upload(`${prefix}-${index}`, SMALL_BYTES, false, SMALL_BYTES))
    await small("warm", WARM_UPLOADS)
    await upload("warm-seed", CHUNKS * CHUNK_BYTES, false)
    await upload("warm-binary", CHUNKS * CHUNK_BYTES, true)
    const perSmall = await tracked(() => small("small", uploads))
    const perChunk = async (binary: boolean) => {
      const one = await tracked(() => upload(`one-${binary}`, CHUNK_BYTES, binary))
      const many = await tracked(() => upload(`many-${binary}`, (CHUNKS + 1) * CHUNK_BYTES, binary))
      return { bytes: (many.bytes - one.bytes) / CHUNKS, objects: (many.objects - one.objects) / CHUNKS }
    }
    return {
      perSmallUpload: {
        uploads,
        bytes: perSmall.bytes / uploads,
        objects: perSmall.objects / uploads,
        sites: perSmall.sites.map(([site, bytes]) => [site, bytes / uploads] as const),
        packages: perSmall.packages.map(([name, bytes]) => [name, bytes / uploads] as const)
      },
      perSeedChunk: await perChunk(false),
      perBinaryChunk: await perChunk(true)
    }
  } finally {
    await server.stop()
    await rm(root, { recursive: true, force: true })
  }
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildServers()
  const kinds: ReadonlyArray<ServerKind> = ["project", "reference"]
  const reports = new Map<ServerKind, AllocationReport>()
  for (const kind of kinds) {
    const report = await measureAllocations(kind)
    reports.set(kind, report)
    const small = report.perSmallUpload
    console.log(`\n${kind}: per small upload (16 KiB, seed protocol, a connection each, ${CONCURRENCY} at a time, ${small.uploads} uploads)`)
    console.log(`  ${kb(small.bytes)} in ${small.objects.toFixed(0)} objects`)
    console.log(`  by package: ${small.packages.slice(0, 6).map(([name, bytes]) => `${name} ${kb(bytes)}`).join(", ")}`)
    console.log(`  by site:`)
    for (const [site, bytes] of small.sites.slice(0, TOP)) console.log(`    ${kb(bytes).padStart(9)}  ${site}`)
    console.log(`  per 256 KiB chunk, stop-and-wait: seed ${kb(report.perSeedChunk.bytes)} in ${report.perSeedChunk.objects.toFixed(0)} objects, ` +
      `binary ${kb(report.perBinaryChunk.bytes)} in ${report.perBinaryChunk.objects.toFixed(0)} objects`)
  }
  const project = reports.get("project")!
  const reference = reports.get("reference")!
  console.log(
    `\nproject against reference: ${(project.perSmallUpload.bytes / reference.perSmallUpload.bytes).toFixed(2)}x the bytes per small upload, ` +
      `${(project.perSeedChunk.bytes / reference.perSeedChunk.bytes).toFixed(2)}x per seed chunk, ` +
      `${(project.perBinaryChunk.bytes / reference.perBinaryChunk.bytes).toFixed(2)}x per binary chunk`
  )
}
