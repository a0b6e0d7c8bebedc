/**
 * Renders effect's metric registry, plus process metrics, in the Prometheus
 * text exposition format (version 0.0.4).
 */
import { Effect, Metric, MetricKeyType, MetricState, Option } from "effect"

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, "\\\"")

const labels = (pairs: ReadonlyArray<readonly [string, string]>) =>
  pairs.length === 0 ? "" : `{${pairs.map(([key, value]) => `${key}="${escapeLabel(value)}"`).join(",")}}`

const number = (value: number | bigint) =>
  typeof value === "bigint" ? value.toString() : Number.isFinite(value) ? String(value) : value > 0 ? "+Inf" : "-Inf"

const processMetrics = (): ReadonlyArray<string> => {
  const memory = process.memoryUsage()
  const cpu = process.cpuUsage()
  return [
    "# HELP process_resident_memory_bytes Resident memory size in bytes.",
    "# TYPE process_resident_memory_bytes gauge",
    `process_resident_memory_bytes ${memory.rss}`,
    "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.",
    "# TYPE process_cpu_seconds_total counter",
    `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
    "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.",
    "# TYPE process_start_time_seconds gauge",
    `process_start_time_seconds ${Math.floor(Date.now() / 1000 - process.uptime())}`,
    "# HELP nodejs_heap_used_bytes V8 heap in use, in bytes.",
    "# TYPE nodejs_heap_used_bytes gauge",
    `nodejs_heap_used_bytes ${memory.heapUsed}`,
    "# HELP nodejs_external_memory_bytes Memory of Buffers and other objects outside the V8 heap, in bytes.",
    "# TYPE nodejs_external_memory_bytes gauge",
    `nodejs_external_memory_bytes ${memory.external}`
  ]
}

/** The exposition text: one HELP and TYPE block per metric name. */
export const render: Effect.Effect<string> = Effect.map(Metric.snapshot, (pairs) => {
  const families = new Map<string, { help: string; type: string; lines: Array<string> }>()
  for (const { metricKey, metricState } of pairs) {
    const tags = metricKey.tags.map((tag) => [tag.key, tag.value] as const)
    const family = (type: string) => {
      const existing = families.get(metricKey.name)
      if (existing) return existing
      const created = { help: Option.getOrElse(metricKey.description, () => metricKey.name), type, lines: [] as Array<string> }
      families.set(metricKey.name, created)
      return created
    }
    if (MetricState.isCounterState(metricState)) {
      // Only a counter that never goes down is a Prometheus counter (effect_fiber_active, say, is not).
      const incremental = MetricKeyType.isCounterKey(metricKey.keyType) && metricKey.keyType.incremental
      family(incremental ? "counter" : "gauge").lines.push(`${metricKey.name}${labels(tags)} ${number(metricState.count)}`)
    } else if (MetricState.isGaugeState(metricState)) {
      family("gauge").lines.push(`${metricKey.name}${labels(tags)} ${number(metricState.value)}`)
    } else if (MetricState.isHistogramState(metricState)) {
      const lines = family("histogram").lines
      for (const [boundary, count] of metricState.buckets) {
        lines.push(`${metricKey.name}_bucket${labels([...tags, ["le", number(boundary)]])} ${count}`)
      }
      lines.push(`${metricKey.name}_sum${labels(tags)} ${metricState.sum}`)
      lines.push(`${metricKey.name}_count${labels(tags)} ${metricState.count}`)
    }
  }
  const blocks = [...families].map(([name, { help, lines, type }]) =>
    [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines].join("\n"))
  return [...blocks, ...processMetrics()].join("\n") + "\n"
})
