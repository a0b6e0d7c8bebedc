/**
 * FsDiskSpace reads the free space of the filesystem holding a directory
 * (statfs), checked against a tmpfs of known size, and fails with
 * DiskSpaceError when the directory is gone.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import * as FsDiskSpace from "../../../src/adapters/fs/FsDiskSpace.js"
import { mountTmpfs } from "../../support/tmpfs.js"

const tmpfs = await mountTmpfs(2048)
afterAll(() => tmpfs?.unmount())

describe("FsDiskSpace", () => {
  it.effect.skipIf(tmpfs === undefined)("reports the free bytes of a 2 MiB tmpfs, less what a file takes", () =>
    Effect.gen(function*() {
      const space = FsDiskSpace.make(tmpfs!.directory)
      expect(yield* space.available).toBe(2 * 1024 * 1024)
      yield* Effect.promise(() => fs.writeFile(path.join(tmpfs!.directory, "half"), Buffer.alloc(1024 * 1024)))
      expect(yield* space.available).toBe(1024 * 1024)
    }))

  it.effect("reports some free space for the temp directory", () =>
    Effect.gen(function*() {
      expect(yield* FsDiskSpace.make(os.tmpdir()).available).toBeGreaterThan(0)
    }))

  it.effect("fails with DiskSpaceError for a directory that does not exist", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(FsDiskSpace.make(path.join(os.tmpdir(), "fr-no-such-dir", "x")).available)
      expect(error._tag).toBe("DiskSpaceError")
    }))
})
