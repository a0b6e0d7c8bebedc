/**
 * What the server allocates on V8's heap per small upload and per chunk,
 * byte for byte, for the project and for the plain `ws` reference: each runs
 * as the bench runs it (its bundle, its node flags, its environment), with
 * bench/alloc-tracker.cjs preloaded, which records every allocation with its
 * stack between two signals (not a sample: the sampling heap profiler's
 * attribution is moved around by inlining). Every allocation counts, whether
 * it is still alive or was collected; those made with the tracker's own code
 * or node's inspector on the stack do not. A server allocates on its own
 * too (its timers' work, the profiler's messages: the project about 115 KiB
 * a second, the reference 10), which under tracking adds up to a tenth of a
 * chunk's figure: an idle window measures that rate first, and each window's
 * totals lose the rate times the window's length. The sites keep it.
 *
 * Why: the small-files scenario spends a third of its event loop's time in
 * young-generation collections, and the number of collections follows the
 * bytes allocated per upload. These are counts, not times: they repeat to
 * within a few percent, so they show what a change to a hot path saves
 * (docs/performance.md). 1 KiB = 1024 bytes.
 *
 *   npm run bench:alloc                 # both servers, small uploads and chunks
 *   ALLOC_TOP=30 npm run bench:alloc    # more of the sites
 *
 * The sites are functions (V8 records the function, not the line, of each
 * frame): each allocation is put down to the innermost function of the
 * server's own code on its stack (src/ for the project, the reference's file
 * for it), or, with none, to the package whose function made it: for the
 * project that is mostly Effect's run loop between two of its steps. "no JS
 * frame" is what node's C++ makes with no JavaScript on the stack (a socket's
 * reads, say). V8 keeps the innermost 64 frames of a stack, so a deep one may
 * have lost its own frames. Every loop is bounded; traffic stays on loopback.
 */
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises"
import { SourceMap } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { inBatches } from "./batches.js"
import { CHUNK_BYTES } from "./scenarios.js"
import { buildServers, REPO_ROOT, type RunningServer, type ServerKind, startServer } from "./servers.js"
import { uploadOverWs } from "./ws-client.js"

const SMALL_BYTES = 16 * 1024
const WARM_UPLOADS = 300
const SMALL_UPLOADS = 200
const CONCURRENCY = 64
const CHUNKS = 32
const TOP = Number(process.env["ALLOC_TOP"] ?? 12)
/** How long a start or a stop of the tracker may take (a stop writes the trace: a few seconds). */
const SIGNAL_TIMEOUT_MILLIS = 60_000
/** How long one reply may take under tracking (nothing here comes near it). */
const REPLY_TIMEOUT_MILLIS = 30_000
/** After the last reply, for the server's closes and finalizers, before the tracker stops. */
const SETTLE_MILLIS = 1_000
const IDLE_MILLIS = 5_000
const TRACKER = path.join(REPO_ROOT, "bench/alloc-tracker.cjs")

interface Trace {
  readonly meta: {
    readonly trace_function_info_fields: ReadonlyArray<string>
    readonly trace_node_fields: ReadonlyArray<string>
  }
  readonly infos: ReadonlyArray<number>
  readonly tree: ReadonlyArray<unknown>
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

const NO_JS_FRAME = "no JS frame"

const packageOf = (script: string): string => {
  if (script === "") return NO_JS_FRAME
  if (script.startsWith("node:")) return "node"
  const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(script)
  return match !== null ? match[1]! : "own code"
}

const fieldsOf = (fields: ReadonlyArray<string>, names: ReadonlyArray<string>): Array<number> =>
  names.map((name) => {
    const index = fields.indexOf(name)
    if (index === -1) throw new Error(`the allocation trace has no "${name}" field (fields: ${fields.join(", ")})`)
    return index
  })

const pathOf = (script: string): string => (script.startsWith("file://") ? fileURLToPath(script) : script)

/** Reads a trace: bytes and objects, by site and by package, with positions in bundles mapped to their sources. */
const analyse = async (file: string): Promise<Allocations> => {
  const trace = JSON.parse(await readFile(file, "utf8")) as Trace
  const infoFields = trace.meta.trace_function_info_fields
  const nodeFields = trace.meta.trace_node_fields
  const [iName, iScript, iLine, iColumn] = fieldsOf(infoFields, ["name", "script_name", "line", "column"])
  const [iInfo, iCount, iSize, iChildren] = fieldsOf(nodeFields, ["function_info_index", "count", "size", "children"])
  const maps = new Map<string, SourceMap | undefined>()
  const mapOf = async (script: string) => {
    if (!maps.has(script)) {
      const text = await readFile(`${pathOf(script)}.map`, "utf8").catch(() => undefined)
      maps.set(script, text === undefined ? undefined : new SourceMap(JSON.parse(text)))
    }
    return maps.get(script)
  }
  interface Frame {
    readonly label: string
    readonly own: boolean
    /** Node's inspector or the tracker itself: what is allocated under it is the measurement's, not the server's. */
    readonly tracker: boolean
    readonly pkg: string
  }
  const frames: Array<Frame> = []
  for (let at = 0; at < trace.infos.length; at += infoFields.length) {
    const name = trace.strings[trace.infos[at + iName!]!] || "(anonymous)"
    const script = trace.strings[trace.infos[at + iScript!]!] ?? ""
    // 1-based, 0 where V8 does not know.
    const line = trace.infos[at + iLine!]!
    const column = trace.infos[at + iColumn!]!
    let source = script
    let sourceLine = line
    const map = line > 0 && (script.endsWith(".mjs") || script.endsWith(".cjs")) ? await mapOf(script) : undefined
    // findEntry takes 0-based offsets and returns {} where the map has no entry.
    const entry = map === undefined ? {} : (map.findEntry(line - 1, Math.max(0, column - 1)) as Partial<{ originalSource: string; originalLine: number }>)
    if (entry.originalSource !== undefined && entry.originalLine !== undefined) {
      source = entry.originalSource
      sourceLine = entry.originalLine + 1
    }
    const pkg = packageOf(source)
    const short = pathOf(source).replace(/^.*node_modules\//, "").replace(/^(\.\.\/)+/, "").replace(`${REPO_ROOT}/`, "")
    frames.push({
      label: `${name} (${short}${sourceLine > 0 ? `:${sourceLine}` : ""})`,
      own: pkg === "own code",
      tracker: source === "node:inspector" || pathOf(source) === TRACKER,
      pkg
    })
  }
  const sites = new Map<string, number>()
  const packages = new Map<string, number>()
  let bytes = 0
  let objects = 0
  // Depth first, with the innermost own frame and whether the tracker is on the stack carried down.
  const walk = (nodes: ReadonlyArray<unknown>, own: Frame | undefined, underTracker: boolean) => {
    for (let at = 0; at < nodes.length; at += nodeFields.length) {
      const frame = frames[nodes[at + iInfo!] as number]!
      const tracker = underTracker || frame.tracker
      const innermost = frame.own && !frame.tracker ? frame : own
      const size = nodes[at + iSize!] as number
      if (size > 0 && !tracker) {
        bytes += size
        objects += nodes[at + iCount!] as number
        const site = innermost?.label ?? `(no own frame: ${frame.pkg})`
        sites.set(site, (sites.get(site) ?? 0) + size)
        packages.set(frame.pkg, (packages.get(frame.pkg) ?? 0) + size)
      }
      walk(nodes[at + iChildren!] as ReadonlyArray<unknown>, innermost, tracker)
    }
  }
  walk(trace.tree, undefined, false)
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1])
  return { bytes, objects, sites: sorted(sites), packages: sorted(packages) }
}

/** A server with the tracker, whose allocations during `tracked`'s work are what `tracked` returns. */
const trackedServer = async (kind: ServerKind, directory: string, trace: string, script: string | undefined) => {
  let waiting: { readonly line: string; readonly done: (error?: Error) => void } | undefined
  const server: RunningServer = await startServer(kind, directory, {
    nodeFlags: ["--require", TRACKER],
    ...(script === undefined ? {} : { script }),
    env: { ALLOC_OUT: trace },
    onStderr: (line) => {
      if (waiting === undefined) return
      if (line === waiting.line) waiting.done()
      else if (line.startsWith("allocation tracker failed")) waiting.done(new Error(`${kind}: ${line}`))
    }
  })
  const signal = (line: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`${kind}: no "${line}" within ${SIGNAL_TIMEOUT_MILLIS} ms`)), SIGNAL_TIMEOUT_MILLIS)
      const exit = setInterval(() => {
        if (!server.alive()) done(new Error(`${kind} exited: ${server.stderrTail()}`))
      }, 200)
      const done = (error?: Error) => {
        clearTimeout(timer)
        clearInterval(exit)
        waiting = undefined
        if (error === undefined) resolve()
        else reject(error)
      }
      waiting = { line, done }
      process.kill(server.pid, "SIGUSR2")
    })
  return {
    server,
    /** Runs `work` with the tracker on and returns what the server allocated meanwhile. */
    tracked: async (work: () => Promise<unknown>): Promise<Allocations & { readonly seconds: number }> => {
      await signal("allocation tracking started")
      const started = performance.now()
      await work()
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MILLIS))
      const seconds = (performance.now() - started) / 1000
      await signal("allocation trace written")
      return { ...(await analyse(trace)), seconds }
    }
  }
}

export interface PerUnit {
  readonly bytes: number
  readonly objects: number
}

export interface AllocationReport {
  readonly perSmallUpload: Allocations & { readonly uploads: number }
  /** Bytes and objects per 256 KiB chunk once an upload is open: (CHUNKS + 1 chunks) − (1 chunk), over CHUNKS. */
  readonly perSeedChunk: PerUnit | undefined
  readonly perBinaryChunk: PerUnit
  /** What the server allocated per second with nothing to do (its timers' work, the tracker's messages that slip through). */
  readonly idlePerSecond: PerUnit
}

/**
 * Measures `kind`: `uploads` small uploads as scenario 6 sends them (16 KiB, a connection each, 64 at a time), then
 * chunks (seed ones unless `seed` is false). `script` is what node runs instead of the bench's bundle (say, a bundle
 * built elsewhere). Not the sources through tsx: its transform names every function as it is made (esbuild's
 * keepNames), which allocates, about 30 KiB more per small upload and 25 KiB more per chunk.
 */
export const measureAllocations = async (
  kind: ServerKind,
  { script, seed = true, uploads = SMALL_UPLOADS }: {
    readonly uploads?: number
    readonly script?: string
    readonly seed?: boolean
  } = {}
): Promise<AllocationReport> => {
  const root = await mkdtemp(path.join(os.tmpdir(), "fr-alloc-"))
  let server: RunningServer | undefined
  try {
    const directory = path.join(root, "files")
    await mkdir(directory)
    const tracking = await trackedServer(kind, directory, path.join(root, "trace.json"), script)
    server = tracking.server
    const url = server.url
    const upload = (name: string, size: number, binary: boolean, chunkBytes = CHUNK_BYTES) =>
      uploadOverWs(url, { fileName: `${name}.pdf`, payload: { seed: size, size }, chunkBytes, binary, window: 1, replyTimeoutMillis: REPLY_TIMEOUT_MILLIS })
    const small = (prefix: string, count: number) =>
      inBatches(count, CONCURRENCY, (index) => upload(`${prefix}-${index}`, SMALL_BYTES, false, SMALL_BYTES))
    await small("warm", WARM_UPLOADS)
    await upload("warm-seed", CHUNKS * CHUNK_BYTES, false)
    await upload("warm-binary", CHUNKS * CHUNK_BYTES, true)
    const idle = await tracking.tracked(() => new Promise((resolve) => setTimeout(resolve, IDLE_MILLIS)))
    const idlePerSecond = { bytes: idle.bytes / idle.seconds, objects: idle.objects / idle.seconds }
    /** A window's totals without what the server allocates on its own in that time. */
    const work = (window: Allocations & { readonly seconds: number }): PerUnit => ({
      bytes: window.bytes - idlePerSecond.bytes * window.seconds,
      objects: window.objects - idlePerSecond.objects * window.seconds
    })
    const per = (unit: PerUnit, count: number): PerUnit => ({ bytes: unit.bytes / count, objects: unit.objects / count })
    const perSmall = await tracking.tracked(() => small("small", uploads))
    const perChunk = async (binary: boolean): Promise<PerUnit> => {
      const one = work(await tracking.tracked(() => upload(`one-${binary}`, CHUNK_BYTES, binary)))
      const many = work(await tracking.tracked(() => upload(`many-${binary}`, (CHUNKS + 1) * CHUNK_BYTES, binary)))
      return { bytes: (many.bytes - one.bytes) / CHUNKS, objects: (many.objects - one.objects) / CHUNKS }
    }
    return {
      perSmallUpload: {
        uploads,
        ...per(work(perSmall), uploads),
        sites: perSmall.sites.map(([site, bytes]) => [site, bytes / uploads] as const),
        packages: perSmall.packages.map(([name, bytes]) => [name, bytes / uploads] as const)
      },
      perSeedChunk: seed ? await perChunk(false) : undefined,
      perBinaryChunk: await perChunk(true),
      idlePerSecond
    }
  } finally {
    await server?.stop()
    await rm(root, { recursive: true, force: true })
  }
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`
const chunkLine = (name: string, unit: PerUnit | undefined) =>
  unit === undefined ? `${name} not measured` : `${name} ${kib(unit.bytes)} in ${unit.objects.toFixed(0)} objects`

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await buildServers()
  const kinds: ReadonlyArray<ServerKind> = ["project", "reference"]
  const reports = new Map<ServerKind, AllocationReport>()
  for (const kind of kinds) {
    const report = await measureAllocations(kind)
    reports.set(kind, report)
    const small = report.perSmallUpload
    console.log(`\n${kind}: per small upload (16 KiB, seed protocol, a connection each, ${CONCURRENCY} at a time, ${small.uploads} uploads)`)
    console.log(`  ${kib(small.bytes)} in ${small.objects.toFixed(0)} objects`)
    console.log(`  by package: ${small.packages.slice(0, 6).map(([name, bytes]) => `${name} ${kib(bytes)}`).join(", ")}`)
    console.log(`  by site:`)
    for (const [site, bytes] of small.sites.slice(0, TOP)) console.log(`    ${kib(bytes).padStart(10)}  ${site}`)
    console.log(`  per 256 KiB chunk, stop-and-wait: ${chunkLine("seed", report.perSeedChunk)}, ${chunkLine("binary", report.perBinaryChunk)}`)
    console.log(`  idle: ${kib(report.idlePerSecond.bytes)} in ${report.idlePerSecond.objects.toFixed(0)} objects per second`)
  }
  const project = reports.get("project")!
  const reference = reports.get("reference")!
  const ratio = (a: PerUnit | undefined, b: PerUnit | undefined) => (a === undefined || b === undefined ? "-" : `${(a.bytes / b.bytes).toFixed(2)}x`)
  console.log(
    `\nproject against reference: ${ratio(project.perSmallUpload, reference.perSmallUpload)} the bytes per small upload, ` +
      `${ratio(project.perSeedChunk, reference.perSeedChunk)} per seed chunk, ${ratio(project.perBinaryChunk, reference.perBinaryChunk)} per binary chunk`
  )
}
