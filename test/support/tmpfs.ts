/**
 * A tiny tmpfs for tests that need a disk that really fills up (ENOSPC).
 * Mounting needs root (CAP_SYS_ADMIN). Outside CI a failed mount skips those
 * tests with a message; in CI (CI=true) or with REQUIRE_TMPFS=1 it fails them.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"

export const tmpfsRequired = process.env["CI"] === "true" || process.env["REQUIRE_TMPFS"] === "1"

/** Mounts a tmpfs of `kibibytes` KiB on a fresh directory; undefined if mounting is not allowed here. */
export const mountTmpfs = async (kibibytes: number): Promise<{ readonly directory: string; readonly unmount: () => Promise<void> } | undefined> => {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-tmpfs-"))
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${kibibytes}k`, "tmpfs", directory], { encoding: "utf8" })
  if (mounted.status !== 0) {
    await fs.rm(directory, { recursive: true, force: true })
    const reason = `cannot mount a tmpfs (${(mounted.stderr || String(mounted.error)).trim()})`
    if (tmpfsRequired) throw new Error(`${reason}; the disk-full tests need root in CI (CI=true or REQUIRE_TMPFS=1)`)
    console.warn(`[file-receiver tests] ${reason}: skipping the disk-full tests (run as root, or REQUIRE_TMPFS=1 to fail instead)`)
    return undefined
  }
  return {
    directory,
    unmount: async () => {
      spawnSync("umount", [directory])
      await fs.rm(directory, { recursive: true, force: true })
    }
  }
}
