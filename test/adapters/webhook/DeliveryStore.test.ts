/** The DeliveryStore contract against the in-memory store and the journal file. */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Logger } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as FsDeliveryJournal from "../../../src/adapters/fs/FsDeliveryJournal.js"
import { type Delivery, DeliveryStore, layerMemory } from "../../../src/adapters/webhook/DeliveryStore.js"
import { deliveryStoreContract } from "../../contracts/DeliveryStore.contract.js"

deliveryStoreContract("memory", layerMemory)

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
