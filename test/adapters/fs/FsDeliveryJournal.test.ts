/** The DeliveryStore contract against the journal file, and the journal after a crash or a planted link. */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Logger } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as FsDeliveryJournal from "../../../src/adapters/fs/FsDeliveryJournal.js"
import { type Delivery, DeliveryStore } from "../../../src/application/ports/DeliveryStore.js"
import { deliveryStoreContract } from "../../contracts/DeliveryStore.contract.js"

// One journal directory per test run; each test builds the layer afresh, so each reopens the file.
const directory = fs.mkdtempSync(path.join(os.tmpdir(), "fr-journal-contract-"))
deliveryStoreContract("journal", Layer.suspend(() => FsDeliveryJournal.layer(directory)))

describe("FsDeliveryJournal after a crash", () => {
  it.effect("a line cut short by a crash is skipped, and the next delivery written is not lost with it", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fr-journal-crash-"))
      const delivery = (id: string): Delivery => ({ id, type: "upload.completed", body: `{"id":"${id}"}`, attempts: 0, dueAt: 0 })
      // One whole entry, then one the crash cut off mid-line (no newline).
      fs.writeFileSync(
        path.join(dir, FsDeliveryJournal.JOURNAL_NAME),
        JSON.stringify({ op: "add", delivery: delivery("a") }) + "\n" + "{\"op\":\"add\",\"deliv"
      )
      const reopen = Effect.flatMap(Layer.build(FsDeliveryJournal.layer(dir)), (context) => Effect.succeed(Context.get(context, DeliveryStore)))
      const first = yield* Effect.scoped(Effect.flatMap(reopen, (store) => Effect.zipRight(store.add(delivery("b")), store.pending)))
      expect(first).toBe(2)
      const second = yield* Effect.scoped(Effect.flatMap(reopen, (store) => store.pending))
      expect(second).toBe(2)
    }).pipe(Effect.provide(Logger.remove(Logger.defaultLogger))))
})

describe("FsDeliveryJournal and a symlink planted in its directory", () => {
  const delivery = (id: string): Delivery => ({ id, type: "upload.completed", body: `{"id":"${id}"}`, attempts: 0, dueAt: 0 })
  const open = (dir: string) => Effect.map(Layer.build(FsDeliveryJournal.layer(dir)), (context) => Context.get(context, DeliveryStore))
  /** A journal directory and, next to it, a file outside it (no newline at its end, which start-up would add). */
  const setup = Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "fr-journal-link-"))),
      (root) => Effect.sync(() => fs.rmSync(root, { recursive: true, force: true }))
    ),
    (root) => {
      const dir = path.join(root, "uploads")
      const outside = path.join(root, "outside.txt")
      fs.mkdirSync(dir)
      fs.writeFileSync(outside, "outside!")
      return { dir, outside, journal: path.join(dir, FsDeliveryJournal.JOURNAL_NAME) }
    }
  )

  it.scoped("a symlink at the journal's name is neither read nor written through: start-up fails with Unavailable", () =>
    Effect.gen(function*() {
      const { dir, outside, journal } = yield* setup
      fs.symlinkSync(outside, journal)
      const error = yield* Effect.flip(open(dir))
      expect(error.reason).toBe("Unavailable")
      expect(fs.readFileSync(outside, "utf8")).toBe("outside!")
    }))

  it.scoped("a symlink put at the journal's name while it runs is not written through: the write fails", () =>
    Effect.gen(function*() {
      const { dir, outside, journal } = yield* setup
      const store = yield* open(dir)
      yield* store.add(delivery("a"))
      fs.rmSync(journal)
      fs.symlinkSync(outside, journal)
      const error = yield* Effect.flip(store.add(delivery("b")))
      expect(error.reason).toBe("Unavailable")
      expect(fs.readFileSync(outside, "utf8")).toBe("outside!")
    }))

  it.scoped("compaction does not write through a symlink planted at its temporary file's name", () =>
    Effect.gen(function*() {
      const { dir, outside, journal } = yield* setup
      fs.symlinkSync(outside, `${journal}.${process.pid}.tmp`)
      const store = yield* open(dir)
      // 256 lines, all obsolete: the last one compacts the journal to nothing.
      for (let i = 0; i < 128; i++) {
        yield* store.add(delivery(`d${i}`))
        yield* store.acknowledge(`d${i}`)
      }
      yield* store.add(delivery("kept"))
      expect(fs.readFileSync(outside, "utf8")).toBe("outside!")
      expect(fs.lstatSync(journal).isFile()).toBe(true)
      expect(fs.readFileSync(journal, "utf8").trim().split("\n")).toHaveLength(1)
      expect(yield* Effect.scoped(Effect.flatMap(open(dir), (reopened) => reopened.pending))).toBe(1)
    }))
})
