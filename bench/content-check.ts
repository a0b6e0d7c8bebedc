/**
 * Cost of the content check, measured on its own (no server): UTF-8
 * validation throughput for text, and the one-off signature detection per
 * upload, for 1 MiB and 64 KiB chunks. Also the cost of one statfs call
 * (the free-space check, once per new upload). Run: node --import tsx bench/content-check.ts
 */
import { Effect } from "effect"
import { randomBytes } from "node:crypto"
import * as os from "node:os"
import * as ContentCheck from "../src/application/uploads/ContentCheck.js"
import * as FsDiskSpace from "../src/adapters/fs/FsDiskSpace.js"

const MiB = 1024 * 1024
const TOTAL = 256 * MiB

const text = (size: number): Buffer => {
  const bytes = randomBytes(size)
  for (let i = 0; i < size; i++) bytes[i] = 0x20 + (bytes[i]! % 95)
  return bytes
}

const pdf = (size: number): Buffer => {
  const bytes = randomBytes(size)
  bytes.write("%PDF-1.7\n")
  return bytes
}

const feedAll = (extension: string, chunk: Buffer) =>
  Effect.gen(function*() {
    const check = ContentCheck.make(extension)
    const started = performance.now()
    for (let sent = 0; sent < TOTAL; sent += chunk.length) {
      check.feed(chunk)
      yield* check.verdict(false)
    }
    yield* check.verdict(true)
    return TOTAL / 1e6 / ((performance.now() - started) / 1000)
  })

const program = Effect.gen(function*() {
  for (const chunkSize of [MiB, 64 * 1024]) {
    const label = `${chunkSize / 1024} KiB chunks`
    console.log(`text (.txt), ${label}: ${(yield* feedAll("txt", text(chunkSize))).toFixed(0)} MB/s`)
    console.log(`signature (.pdf), ${label}: ${(yield* feedAll("pdf", pdf(chunkSize))).toFixed(0)} MB/s`)
  }
  const uploads = 2000
  const head = pdf(ContentCheck.HEAD_BYTES)
  let started = performance.now()
  for (let i = 0; i < uploads; i++) {
    const check = ContentCheck.make("pdf")
    check.feed(head)
    yield* check.verdict(false)
  }
  console.log(`signature detection: ${((performance.now() - started) * 1000 / uploads).toFixed(1)} µs per upload`)
  const space = FsDiskSpace.make(os.tmpdir())
  started = performance.now()
  for (let i = 0; i < uploads; i++) yield* space.available
  console.log(`statfs: ${((performance.now() - started) * 1000 / uploads).toFixed(1)} µs per call`)
})

Effect.runPromise(program).catch((error) => {
  console.error(error)
  process.exit(1)
})
