/**
 * DeliveryStore in a journal file next to the uploads
 * (`<directory>/.webhook-deliveries.jsonl`), for a single instance without
 * Redis. Every change is one appended JSON line (`add`, `ack`, `retry`);
 * start-up replays the file, and once most of its lines are obsolete it is
 * compacted (rewritten with only the pending deliveries, then renamed into
 * place). Leases live in memory: after a restart every pending delivery is
 * due again. Like the uploads, the journal is not fsynced. It is never read
 * or written through a link planted at its name (see RegularFile): then
 * start-up, or the write, fails.
 */
import { Effect, Layer } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { type Delivery, DeliveryStore, DeliveryStoreError } from "../../application/ports/DeliveryStore.js"
import { claimFrom, type Held } from "../shared/InProcessDeliveries.js"
import { unlessMissing } from "./Publish.js"
import { appendRegular, readRegular, replaceRegular } from "./RegularFile.js"

export const JOURNAL_NAME = ".webhook-deliveries.jsonl"

type Entry =
  | { readonly op: "add"; readonly delivery: Delivery }
  | { readonly op: "ack"; readonly id: string }
  | { readonly op: "retry"; readonly id: string; readonly attempts: number; readonly dueAt: number }

const apply = (held: Map<string, Held>, entry: Entry): void => {
  switch (entry.op) {
    case "add":
      if (!held.has(entry.delivery.id)) held.set(entry.delivery.id, { delivery: entry.delivery, leasedUntil: 0 })
      return
    case "ack":
      held.delete(entry.id)
      return
    case "retry": {
      const current = held.get(entry.id)
      if (current !== undefined) held.set(entry.id, { delivery: { ...current.delivery, attempts: entry.attempts, dueAt: entry.dueAt }, leasedUntil: 0 })
    }
  }
}

/** Rewrites the journal when it has this many lines and at least four times as many as pending deliveries. */
const COMPACT_AFTER = 256

export const make = (directory: string) =>
  Effect.gen(function*() {
    const file = path.join(directory, JOURNAL_NAME)
    const unavailable = (cause: unknown) => new DeliveryStoreError({ reason: "Unavailable", cause })
    const held = new Map<string, Held>()
    let lines = 0
    const text = yield* Effect.tryPromise({
      try: async () => {
        await fs.mkdir(directory, { recursive: true })
        return (await unlessMissing(readRegular(file))) ?? ""
      },
      catch: unavailable
    })
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue
      try {
        apply(held, JSON.parse(line) as Entry)
        lines++
      } catch {
        // A line cut short by a crash: everything before it stands.
        yield* Effect.logWarning("webhook journal: unreadable line skipped").pipe(Effect.annotateLogs({ file }))
      }
    }
    // A crash can leave the last line cut short; end it, or the next append would join it and be lost too.
    if (text !== "" && !text.endsWith("\n")) {
      yield* Effect.tryPromise({ try: () => appendRegular(file, "\n"), catch: unavailable })
    }
    const lock = yield* Effect.makeSemaphore(1)

    const compact = Effect.tryPromise({
      try: async () => {
        const snapshot = [...held.values()].map(({ delivery }) => JSON.stringify({ op: "add", delivery }) + "\n").join("")
        await replaceRegular(`${file}.${process.pid}.tmp`, file, snapshot)
        lines = held.size
      },
      catch: unavailable
    })

    /** Appends `entry` to the journal, then applies it in memory. */
    const write = (entry: Entry) =>
      lock.withPermits(1)(Effect.gen(function*() {
        yield* Effect.tryPromise({ try: () => appendRegular(file, JSON.stringify(entry) + "\n"), catch: unavailable })
        apply(held, entry)
        lines++
        if (lines >= COMPACT_AFTER && lines >= 4 * held.size) yield* compact
      }))

    if (lines >= COMPACT_AFTER && lines >= 4 * held.size) yield* compact

    return DeliveryStore.of({
      add: (delivery) => write({ op: "add", delivery }),
      claimDue: (now, lease, limit) => lock.withPermits(1)(Effect.sync(() => claimFrom(held, now, lease, limit))),
      acknowledge: (id) => write({ op: "ack", id }),
      retry: (id, attempts, dueAt) => write({ op: "retry", id, attempts, dueAt }),
      pending: Effect.sync(() => held.size)
    })
  })

/** The journal in `directory` (created if missing). */
export const layer = (directory: string): Layer.Layer<DeliveryStore, DeliveryStoreError> => Layer.effect(DeliveryStore, make(directory))
