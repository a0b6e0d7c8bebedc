import { describe, expect, it } from "@effect/vitest"
import { spawn, spawnSync } from "node:child_process"
import * as path from "node:path"
import * as StdoutLines from "../../../src/adapters/log/StdoutLines.js"

describe("log lines to standard output", () => {
  it("the lines of one turn go out in one write, in order, at the end of the turn", async () => {
    const writes: Array<string> = []
    const writer = StdoutLines.makeWriter((text) => void writes.push(text), () => expect.unreachable())
    writer.line("first")
    writer.line("second")
    writer.line("third")
    expect(writes).toEqual([])
    await new Promise((resolve) => setImmediate(resolve))
    expect(writes).toEqual(["first\nsecond\nthird\n"])
    writer.line("next turn")
    await new Promise((resolve) => setImmediate(resolve))
    expect(writes).toEqual(["first\nsecond\nthird\n", "next turn\n"])
  })

  it("flushSync writes what is queued at once, and the turn's write then has nothing left to write", async () => {
    const writes: Array<string> = []
    const now: Array<string> = []
    const writer = StdoutLines.makeWriter((text) => void writes.push(text), (text) => void now.push(text))
    writer.line("a")
    writer.line("b")
    writer.flushSync()
    await new Promise((resolve) => setImmediate(resolve))
    expect(now).toEqual(["a\nb\n"])
    expect(writes).toEqual([])
  })

  it.each(["logFmt", "json"] as const)("%s: the lines of a process that exits in the same turn are all written, whole", (logger) => {
    const script = `
      import { Effect } from "effect"
      import * as StdoutLines from ${JSON.stringify(path.resolve("src/adapters/log/StdoutLines.ts"))}
      Effect.runSync(Effect.forEach(Array.from({ length: 200 }, (_, i) => i), (i) =>
        Effect.logInfo("line " + i).pipe(Effect.annotateLogs({ index: i }))).pipe(Effect.provide(StdoutLines.${logger})))
      process.exit(3)
    `
    const result = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", timeout: 30_000 })
    expect(result.status).toBe(3)
    const lines = result.stdout.split("\n").filter((line) => line !== "")
    expect(lines).toHaveLength(200)
    lines.forEach((line, index) => {
      expect(line).toContain(`line ${index}`)
      if (logger === "json") expect(JSON.parse(line)).toMatchObject({ message: `line ${index}`, annotations: { index } })
      else expect(line).toMatch(/^timestamp=\S+ level=INFO fiber=#\d+ message="line \d+" index=\d+$/)
    })
  })

  it("at exit, lines beyond what a pipe holds at once are all written (5 MB in the last turn)", () => {
    const script = `
      import { Effect } from "effect"
      import * as StdoutLines from ${JSON.stringify(path.resolve("src/adapters/log/StdoutLines.ts"))}
      const padding = "x".repeat(1000)
      Effect.runSync(Effect.forEach(Array.from({ length: 5000 }, (_, i) => i), (i) =>
        Effect.logInfo("line " + i).pipe(Effect.annotateLogs({ padding }))).pipe(Effect.provide(StdoutLines.logFmt)))
      process.exit(0)
    `
    const result = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
      timeout: 60_000,
      maxBuffer: 64 * 1024 * 1024
    })
    const lines = result.stdout.split("\n").filter((line) => line !== "")
    expect(lines).toHaveLength(5000)
    expect(lines.at(-1)).toContain('message="line 4999"')
  }, 60_000)

  it("a reader of standard output that went away costs log lines, not the process", async () => {
    const script = `
      import { Effect } from "effect"
      import * as StdoutLines from ${JSON.stringify(path.resolve("src/adapters/log/StdoutLines.ts"))}
      const log = (i) => Effect.runPromise(Effect.logInfo("line " + i).pipe(Effect.provide(StdoutLines.logFmt)))
      for (let i = 0; i < 50; i++) { await log(i); await new Promise((r) => setTimeout(r, 10)) }
      process.stderr.write("still running\\n")
    `
    const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (data: Buffer) => (stderr += data.toString()))
    // The reader goes away after the first line.
    const exited = new Promise((resolve) => child.once("exit", resolve))
    await Promise.race([new Promise((resolve) => child.stdout.once("data", resolve)), exited])
    child.stdout.destroy()
    const code = await exited
    expect(stderr).toContain("still running")
    expect(code).toBe(0)
  }, 30_000)
})
