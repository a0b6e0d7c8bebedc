/**
 * What the benchmark reports: the raw per-round numbers and their medians
 * (results.json), a readable table, and the machine it ran on.
 * MB = 10^6 bytes throughout (MB/s and RSS).
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { REPO_ROOT, type ServerKind } from "./servers.js"

export type PerServer = Partial<Record<ServerKind, number>>

export interface Round {
  readonly round: number
  readonly order: ReadonlyArray<ServerKind>
  readonly seconds: PerServer
  readonly mbPerSecond: PerServer
  /** CPU seconds the server process used for the run (user + system). */
  readonly cpuSeconds: PerServer
}

export interface ThroughputResult {
  readonly id: string
  readonly title: string
  readonly bytesPerRun: number
  readonly rounds: ReadonlyArray<Round>
  readonly medianMBPerSecond: PerServer
  /** The server's CPU seconds per GiB uploaded (median over the rounds). */
  readonly medianCpuSecondsPerGiB: PerServer
  /** Paired ratios, one per round: project MB/s over the other server's, in the same round. */
  readonly ratios: { readonly projectToReference: ReadonlyArray<number>; readonly projectToTus: ReadonlyArray<number> }
  readonly medianRatios: {
    readonly projectToReference?: number
    readonly projectToTus?: number
    /** The project with DIGEST_THREADS=0, against tus where the scenario has it, else the reference. */
    readonly inlineToPeer?: number
    /** The project with INTEGRITY=requested (hashing nothing), against the same peer. */
    readonly unhashedToPeer?: number
  }
  /** Each server's VmHWM at the end of the scenario (warm-up and all rounds). */
  readonly serverPeakRssBytes: PerServer
  /** CPU microseconds (user + system) the bench spent per file creating and removing one in each server's save directory, before it started. */
  readonly saveDirectoryCreateMicros?: PerServer
  readonly warnings: ReadonlyArray<string>
  readonly error?: string
}

export interface MemoryRun {
  readonly kind: ServerKind
  /** VmRSS right after start-up, before any upload. */
  readonly baselineRssBytes: number
  /** VmHWM after the run: the peak resident set size of the whole process life. */
  readonly peakRssBytes: number
  readonly seconds: number
  readonly mbPerSecond: number
}

export interface MemoryResult {
  readonly id: string
  readonly title: string
  readonly bytesPerRun: number
  readonly targetBytes: number
  readonly note: string
  readonly runs: ReadonlyArray<MemoryRun>
  readonly warnings: ReadonlyArray<string>
  readonly error?: string
}

export interface LongUploadResult {
  readonly id: string
  readonly title: string
  readonly target: number
  /** Per round, the project's MB/s for the short and the long upload, each on a fresh server. */
  readonly rounds: ReadonlyArray<{ readonly shortMBPerSecond: number; readonly longMBPerSecond: number }>
  readonly medianShortMBPerSecond?: number
  readonly medianLongMBPerSecond?: number
  /** Median of the per-round long / short ratios. */
  readonly medianRatio?: number
  readonly warnings: ReadonlyArray<string>
  readonly error?: string
}

export const median = (values: ReadonlyArray<number>): number | undefined => {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2
}

const versionOf = (pkg: string): string => {
  try {
    const manifest = JSON.parse(readFileSync(path.join(REPO_ROOT, "node_modules", pkg, "package.json"), "utf8"))
    return String((manifest as { version?: unknown }).version)
  } catch {
    return "missing"
  }
}

const git = (...args: Array<string>): string => {
  try {
    return execFileSync("git", args, { cwd: REPO_ROOT, encoding: "utf8" }).trim()
  } catch {
    return "unknown"
  }
}

/** The machine and software the numbers come from. */
export const machine = () => {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8")
  return {
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown",
    cores: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    date: new Date().toISOString(),
    commit: git("rev-parse", "--short", "HEAD"),
    /** Files under src/ that differ from the commit (the project server is run from the work tree). */
    uncommittedSrcFiles: git("status", "--porcelain", "--", "src").split("\n").filter((line) => line !== "").length,
    packages: Object.fromEntries(
      ["ws", "bufferutil", "effect", "@tus/server", "@tus/file-store", "tus-js-client"].map((pkg) => [pkg, versionOf(pkg)])
    )
  }
}

const mb = (bytes: number | undefined): string => (bytes === undefined ? "-" : (bytes / 1e6).toFixed(1))
const rate = (value: number | undefined): string => (value === undefined ? "-" : value.toFixed(1))
const cpu = (value: number | undefined): string => (value === undefined ? "-" : value.toFixed(2))
const times = (value: number | undefined): string => (value === undefined ? "-" : `${value.toFixed(2)}x`)

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[0] ?? 0) : cell.padStart(widths[column] ?? 0)))
      .join("  ")
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join("\n")
}

/** The readable summary printed at the end of a run. */
export const summary = (
  info: ReturnType<typeof machine>,
  rounds: number,
  throughput: ReadonlyArray<ThroughputResult>,
  memory: ReadonlyArray<MemoryResult>,
  long: ReadonlyArray<LongUploadResult> = []
): string => {
  const parts: Array<string> = [
    `Machine: ${info.cpu}, ${info.cores} cores, ${mb(info.memoryBytes)} MB RAM, ${info.kernel}, Node ${info.node}`,
    `Date: ${info.date}; commit ${info.commit}` +
      (info.uncommittedSrcFiles > 0 ? ` (+${info.uncommittedSrcFiles} uncommitted src/ files)` : ""),
    `MB = 10^6 bytes. Medians over ${rounds} rounds; ratios are medians of per-round paired ratios.`
  ]
  if (throughput.length > 0) {
    parts.push(
      "",
      table(
        [
          "scenario",
          "project MB/s",
          "inline MB/s",
          "unhashed MB/s",
          "reference MB/s",
          "tus MB/s",
          "project/reference",
          "project/tus",
          "inline/tus|ref",
          "unhashed/tus|ref",
          "CPU s/GiB project/inline/unhashed/ref/tus"
        ],
        throughput.map((result) =>
          result.error !== undefined ? [`${result.id}. ${result.title}`, "FAILED", "", "", "", "", "", "", "", "", ""] : [
            `${result.id}. ${result.title}`,
            rate(result.medianMBPerSecond.project),
            rate(result.medianMBPerSecond["project-inline"]),
            rate(result.medianMBPerSecond["project-unhashed"]),
            rate(result.medianMBPerSecond.reference),
            rate(result.medianMBPerSecond.tus),
            times(result.medianRatios.projectToReference),
            times(result.medianRatios.projectToTus),
            times(result.medianRatios.inlineToPeer),
            times(result.medianRatios.unhashedToPeer),
            (["project", "project-inline", "project-unhashed", "reference", "tus"] as const).map((kind) => cpu(result.medianCpuSecondsPerGiB?.[kind])).join(" / ")
          ]
        )
      )
    )
  }
  if (memory.length > 0) {
    const runOf = (result: MemoryResult, kind: ServerKind) => result.runs.find((run) => run.kind === kind)
    parts.push(
      "",
      table(
        ["memory case", "project peak RSS MB", "target MB", "project idle RSS MB", "project MB/s", "reference peak (idle)"],
        memory.map((result) =>
          result.error !== undefined ? [`${result.id}. ${result.title}`, "FAILED", mb(result.targetBytes), "", "", ""] : [
            `${result.id}. ${result.title}`,
            mb(runOf(result, "project")?.peakRssBytes),
            `<= ${mb(result.targetBytes)}`,
            mb(runOf(result, "project")?.baselineRssBytes),
            rate(runOf(result, "project")?.mbPerSecond),
            runOf(result, "reference") === undefined ? "-" :
              `${mb(runOf(result, "reference")?.peakRssBytes)} (${mb(runOf(result, "reference")?.baselineRssBytes)})`
          ]
        )
      )
    )
  }
  if (long.length > 0) {
    parts.push(
      "",
      table(
        ["long upload", "short MB/s", "long MB/s", "long/short", "target"],
        long.map((result) =>
          result.error !== undefined ? [`${result.id}. ${result.title}`, "FAILED", "", "", ""] : [
            `${result.id}. ${result.title}`,
            rate(result.medianShortMBPerSecond),
            rate(result.medianLongMBPerSecond),
            times(result.medianRatio),
            `>= ${times(result.target)}`
          ]
        )
      )
    )
  }
  const problems = [...throughput, ...memory, ...long].flatMap((result) => [
    ...(result.error === undefined ? [] : [`${result.id}: FAILED: ${result.error}`]),
    ...result.warnings.map((warning) => `${result.id}: warning: ${warning}`)
  ])
  if (problems.length > 0) parts.push("", ...problems)
  return parts.join("\n")
}
