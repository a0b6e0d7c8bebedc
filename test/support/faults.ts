/**
 * Storage faults on the real filesystem, for tests of what a reply promises
 * when the store stops working: a file made immutable (chattr +i: writes to
 * it fail with EPERM, even through a descriptor already open) and a save
 * directory remounted read-only (EROFS for every new open for writing).
 * Both need root. Outside CI a missing permission skips those tests with a
 * message; in CI (CI=true) or with REQUIRE_FAULTS=1 it fails them.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"

const faultsRequired = process.env["CI"] === "true" || process.env["REQUIRE_FAULTS"] === "1"

const run = (command: string, ...args: ReadonlyArray<string>): void => {
  const result = spawnSync(command, args, { encoding: "utf8" })
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")}: ${(result.stderr || String(result.error)).trim()}`)
}

/** Whether this machine lets the tests inject the faults; logs why not, or throws where they are required. */
export const faultsAvailable = (() => {
  const probe = path.join(os.tmpdir(), `fr-fault-probe-${process.pid}`)
  try {
    spawnSync("touch", [probe])
    run("chattr", "+i", probe)
    run("chattr", "-i", probe)
    return true
  } catch (error) {
    const reason = `cannot inject storage faults (${String(error)})`
    if (faultsRequired) throw new Error(`${reason}; the storage-fault tests need root in CI (CI=true or REQUIRE_FAULTS=1)`)
    console.warn(`[file-receiver tests] ${reason}: skipping the storage-fault tests`)
    return false
  } finally {
    void fs.rm(probe, { force: true })
  }
})()

/** Makes `file` immutable (writes fail with EPERM) or mutable again. */
export const setImmutable = (file: string, immutable: boolean): void => run("chattr", immutable ? "+i" : "-i", file)

/** A fresh directory mounted on itself, so that it can be remounted read-only and back; `release` unmounts and removes it. */
export const remountableDirectory = async () => {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-remount-"))
  run("mount", "--bind", directory, directory)
  return {
    directory,
    /** Read-only (EROFS on open for writing) or writable again; fails while a file in it is open for writing. */
    setReadOnly: (readOnly: boolean) => run("mount", "-o", `remount,bind,${readOnly ? "ro" : "rw"}`, directory),
    release: async () => {
      spawnSync("umount", [directory])
      await fs.rm(directory, { recursive: true, force: true })
    }
  }
}
