/**
 * `npm run bench`: the side-by-side benchmark of issue 10. Starts the project
 * server (the real src/main.ts), the plain `ws` reference and tus-node-server
 * as child processes on 127.0.0.1, uploads to them back to back in
 * alternating order (ABC, CBA, ...) for several rounds, verifies every stored
 * file by sha256, prints a table and writes bench/results.json.
 *
 * Environment: BENCH_SIZE_MIB (base size, default 128), BENCH_ROUNDS
 * (default 5), BENCH_SCENARIOS (e.g. "1,2" or "5b"; "5" means 5a-5d,
 * "7" means 7a,7b; default all), BENCH_OUT (default bench/results.json).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { performance } from "node:perf_hooks"
import {
  type LongUploadResult,
  machine,
  median,
  type MemoryResult,
  type MemoryRun,
  type PerServer,
  type Round,
  summary,
  type ThroughputResult
} from "./report.js"
import { CHUNK_BYTES, IntegrityError, type LongUploadCase, type MemoryCase, scenarios, type ThroughputScenario, verifyAndClean } from "./scenarios.js"
import { buildServers, cpuSecondsOf, creationCost, memoryOf, REPO_ROOT, type RunningServer, type ServerKind, startServer } from "./servers.js"

const positiveInteger = (name: string, fallback: number): number => {
  const text = process.env[name]?.trim()
  if (text === undefined || text === "") return fallback
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new Error(`${name} must be a positive integer, got "${text}"`)
  return Number(text)
}

const settings = {
  sizeMiB: positiveInteger("BENCH_SIZE_MIB", 128),
  rounds: positiveInteger("BENCH_ROUNDS", 5),
  selection: (process.env["BENCH_SCENARIOS"] ?? "").split(",").map((id) => id.trim()).filter((id) => id !== ""),
  out: path.resolve(REPO_ROOT, process.env["BENCH_OUT"] ?? "bench/results.json")
}

const selected = (id: string): boolean =>
  settings.selection.length === 0 || settings.selection.some((wanted) => id === wanted || id.startsWith(wanted))

const progress = (text: string) => console.error(`[bench] ${text}`)

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const freshDirectory = async (root: string, name: string): Promise<string> => {
  const directory = path.join(root, name)
  await mkdir(directory, { recursive: true })
  return directory
}

/** Warn when a creation costs more than this many times as much in one server's directory as in another's. */
const CREATION_COST_SPREAD = 5

/** Uploads once to `server`, verifies and deletes what it stored; returns the seconds the upload took. */
const timedRun = async (
  workload: ThroughputScenario["workload"],
  server: RunningServer,
  warnings: Array<string>
): Promise<{ readonly seconds: number; readonly cpuSeconds: number }> => {
  const cpuBefore = await cpuSecondsOf(server.pid)
  const started = performance.now()
  let stored
  try {
    stored = await workload.upload(server)
  } catch (error) {
    const died = server.alive() ? "" : ` (the server process exited; its stderr:\n${server.stderrTail()})`
    throw new Error(`${server.kind}: ${messageOf(error)}${died}`)
  }
  const seconds = (performance.now() - started) / 1000
  const cpuSeconds = (await cpuSecondsOf(server.pid)) - cpuBefore
  warnings.push(...(await verifyAndClean(server, stored)))
  if (!server.alive()) throw new Error(`${server.kind} server exited after the run: ${server.stderrTail()}`)
  return { seconds, cpuSeconds }
}

const ratios = (rounds: ReadonlyArray<Round>, other: ServerKind, of: ServerKind = "project"): ReadonlyArray<number> =>
  rounds.flatMap((round) => {
    const project = round.mbPerSecond[of]
    const peer = round.mbPerSecond[other]
    return project === undefined || peer === undefined ? [] : [project / peer]
  })

const runThroughput = async (scenario: ThroughputScenario, root: string): Promise<ThroughputResult> => {
  const { workload } = scenario
  const warnings: Array<string> = []
  const rounds: Array<Round> = []
  const servers = new Map<ServerKind, RunningServer>()
  const peak: PerServer = {}
  const createMicros: PerServer = {}
  const result = (error?: string): ThroughputResult => {
    const toReference = ratios(rounds, "reference")
    const toTus = ratios(rounds, "tus")
    const medianOf = (kind: ServerKind) => median(rounds.flatMap((round) => round.mbPerSecond[kind] ?? []))
    const medians: PerServer = {}
    const cpuPerGiB: PerServer = {}
    for (const kind of scenario.kinds) {
      const cpu = median(rounds.flatMap((round) => round.cpuSeconds[kind] ?? []))
      if (cpu !== undefined) cpuPerGiB[kind] = cpu / (workload.bytes / 2 ** 30)
      const value = medianOf(kind)
      if (value !== undefined) medians[kind] = value
    }
    const medianToReference = median(toReference)
    const medianToTus = median(toTus)
    // The project with every digest on the event loop's thread, against the same peers in the same rounds.
    const peer = scenario.kinds.includes("tus") ? "tus" : "reference"
    const inlineToPeer = median(ratios(rounds, peer, "project-inline"))
    // The project hashing nothing (INTEGRITY=requested), likewise.
    const unhashedToPeer = median(ratios(rounds, peer, "project-unhashed"))
    return {
      id: scenario.id,
      title: scenario.title,
      bytesPerRun: workload.bytes,
      rounds,
      medianMBPerSecond: medians,
      medianCpuSecondsPerGiB: cpuPerGiB,
      ratios: { projectToReference: toReference, projectToTus: toTus },
      medianRatios: {
        ...(medianToReference === undefined ? {} : { projectToReference: medianToReference }),
        ...(medianToTus === undefined ? {} : { projectToTus: medianToTus }),
        ...(inlineToPeer === undefined ? {} : { inlineToPeer }),
        ...(unhashedToPeer === undefined ? {} : { unhashedToPeer })
      },
      serverPeakRssBytes: peak,
      saveDirectoryCreateMicros: createMicros,
      warnings,
      ...(error === undefined ? {} : { error })
    }
  }
  try {
    progress(`scenario ${scenario.id}: ${scenario.title}`)
    workload.prepare()
    for (const kind of scenario.kinds) {
      const directory = await freshDirectory(root, `${scenario.id}-${kind}`)
      createMicros[kind] = creationCost(directory)
      servers.set(kind, await startServer(kind, directory))
    }
    const costs = Object.entries(createMicros)
    const micros = costs.map(([, cost]) => cost)
    if (Math.max(...micros) > CREATION_COST_SPREAD * Math.min(...micros)) {
      warnings.push(
        `creating a file costs ${costs.map(([kind, cost]) => `${kind} ${cost.toFixed(0)} µs`).join(", ")} of CPU in the ` +
          "servers' save directories: where uploads create files, the ratios partly measure the directories"
      )
    }
    for (const server of servers.values()) await timedRun(workload, server, warnings) // warm-up, not recorded
    for (let round = 1; round <= settings.rounds; round++) {
      const order = round % 2 === 1 ? scenario.kinds : [...scenario.kinds].reverse()
      const seconds: PerServer = {}
      const mbPerSecond: PerServer = {}
      const cpuSeconds: PerServer = {}
      for (const kind of order) {
        const server = servers.get(kind)
        if (server === undefined) throw new Error(`no ${kind} server`)
        const run = await timedRun(workload, server, warnings)
        seconds[kind] = run.seconds
        mbPerSecond[kind] = workload.bytes / 1e6 / run.seconds
        cpuSeconds[kind] = run.cpuSeconds
      }
      rounds.push({ round, order, seconds, mbPerSecond, cpuSeconds })
      progress(`  round ${round}: ${order.map((kind) => `${kind} ${mbPerSecond[kind]?.toFixed(1)} MB/s`).join(", ")}`)
    }
    for (const [kind, server] of servers) peak[kind] = (await memoryOf(server.pid)).vmHWM
    progress(`  peak RSS: ${[...servers.keys()].map((kind) => `${kind} ${((peak[kind] ?? 0) / 1e6).toFixed(1)} MB`).join(", ")}`)
    return result()
  } catch (error) {
    if (error instanceof IntegrityError) throw error
    progress(`scenario ${scenario.id} FAILED: ${messageOf(error)}`)
    return result(messageOf(error))
  } finally {
    await Promise.all([...servers.values()].map((server) => server.stop()))
  }
}

const runMemory = async (memoryCase: MemoryCase, root: string): Promise<MemoryResult> => {
  const { workload } = memoryCase
  const warnings: Array<string> = []
  const runs: Array<MemoryRun> = []
  const result = (error?: string): MemoryResult => ({
    id: memoryCase.id,
    title: memoryCase.title,
    bytesPerRun: workload.bytes,
    targetBytes: memoryCase.targetBytes,
    note: memoryCase.note,
    runs,
    warnings,
    ...(error === undefined ? {} : { error })
  })
  progress(`case ${memoryCase.id}: ${memoryCase.title}`)
  try {
    workload.prepare()
    for (const kind of memoryCase.kinds) {
      // A fresh process per case and server: VmHWM is the peak of its whole life.
      const server = await startServer(kind, await freshDirectory(root, `${memoryCase.id}-${kind}`))
      try {
        const baseline = await memoryOf(server.pid)
        const started = performance.now()
        const stored = await workload.upload(server).catch((error: unknown) => {
          throw new Error(`${kind}: ${messageOf(error)}${server.alive() ? "" : `; stderr: ${server.stderrTail()}`}`)
        })
        const seconds = (performance.now() - started) / 1000
        const { vmHWM } = await memoryOf(server.pid)
        warnings.push(...(await verifyAndClean(server, stored)))
        runs.push({
          kind,
          baselineRssBytes: baseline.vmRSS,
          peakRssBytes: vmHWM,
          seconds,
          mbPerSecond: workload.bytes / 1e6 / seconds
        })
        progress(`  ${kind}: peak RSS ${(vmHWM / 1e6).toFixed(1)} MB, ${(workload.bytes / 1e6 / seconds).toFixed(1)} MB/s`)
      } finally {
        await server.stop()
      }
    }
    return result()
  } catch (error) {
    if (error instanceof IntegrityError) throw error
    progress(`case ${memoryCase.id} FAILED: ${messageOf(error)}`)
    return result(messageOf(error))
  }
}

/** Case 5d: in each round, the short upload and then the long one, each as the first upload of a fresh project server. */
const runLongUpload = async (longCase: LongUploadCase, root: string): Promise<LongUploadResult> => {
  const warnings: Array<string> = []
  const rounds: Array<{ shortMBPerSecond: number; longMBPerSecond: number }> = []
  const result = (error?: string): LongUploadResult => {
    const shortMedian = median(rounds.map((round) => round.shortMBPerSecond))
    const longMedian = median(rounds.map((round) => round.longMBPerSecond))
    const ratio = median(rounds.map((round) => round.longMBPerSecond / round.shortMBPerSecond))
    return {
      id: longCase.id,
      title: longCase.title,
      target: longCase.target,
      rounds,
      ...(shortMedian === undefined ? {} : { medianShortMBPerSecond: shortMedian }),
      ...(longMedian === undefined ? {} : { medianLongMBPerSecond: longMedian }),
      ...(ratio === undefined ? {} : { medianRatio: ratio }),
      warnings,
      ...(error === undefined ? {} : { error })
    }
  }
  progress(`case ${longCase.id}: ${longCase.title}`)
  const once = async (workload: LongUploadCase["short"], name: string) => {
    const server = await startServer("project", await freshDirectory(root, name))
    try {
      const { seconds } = await timedRun(workload, server, warnings)
      return workload.bytes / 1e6 / seconds
    } finally {
      await server.stop()
    }
  }
  try {
    longCase.short.prepare()
    longCase.long.prepare()
    for (let round = 1; round <= settings.rounds; round++) {
      const shortMBPerSecond = await once(longCase.short, `${longCase.id}-${round}-short`)
      const longMBPerSecond = await once(longCase.long, `${longCase.id}-${round}-long`)
      rounds.push({ shortMBPerSecond, longMBPerSecond })
      progress(`  round ${round}: short ${shortMBPerSecond.toFixed(1)} MB/s, long ${longMBPerSecond.toFixed(1)} MB/s (${(longMBPerSecond / shortMBPerSecond).toFixed(2)}x)`)
    }
    return result()
  } catch (error) {
    if (error instanceof IntegrityError) throw error
    progress(`case ${longCase.id} FAILED: ${messageOf(error)}`)
    return result(messageOf(error))
  }
}

const main = async () => {
  await buildServers()
  const info = machine()
  const chosen = scenarios(settings.sizeMiB).filter((scenario) => selected(scenario.id))
  if (chosen.length === 0) throw new Error(`BENCH_SCENARIOS="${settings.selection.join(",")}" selects nothing`)
  const throughput: Array<ThroughputResult> = []
  const memory: Array<MemoryResult> = []
  const long: Array<LongUploadResult> = []
  let fatal: string | undefined
  const root = await mkdtemp(path.join(os.tmpdir(), "file-receiver-bench-"))
  try {
    for (const scenario of chosen) {
      if (scenario._tag === "Throughput") throughput.push(await runThroughput(scenario, root))
      else if (scenario._tag === "LongUpload") long.push(await runLongUpload(scenario, root))
      else memory.push(await runMemory(scenario, root))
    }
  } catch (error) {
    if (!(error instanceof IntegrityError)) throw error
    fatal = `INTEGRITY FAILURE: ${error.message}`
  } finally {
    await rm(root, { recursive: true, force: true })
  }
  const results = {
    machine: info,
    settings: { ...settings, out: path.relative(REPO_ROOT, settings.out), chunkBytes: CHUNK_BYTES, megabyte: "10^6 bytes" },
    throughput,
    memory,
    long,
    ...(fatal === undefined ? {} : { fatal })
  }
  await writeFile(settings.out, `${JSON.stringify(results, null, 2)}\n`)
  console.log(summary(info, settings.rounds, throughput, memory, long))
  console.log(`\nRaw numbers: ${path.relative(process.cwd(), settings.out)}`)
  if (fatal !== undefined) {
    console.error(`\n!!! ${fatal}\n!!! the benchmark is void: a server stored different bytes than were sent`)
    process.exitCode = 1
  } else if ([...throughput, ...memory, ...long].some((result) => result.error !== undefined)) {
    process.exitCode = 1
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
