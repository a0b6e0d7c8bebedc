/**
 * A temporary directory for a test file's input files: made before its
 * tests run and removed after them.
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"

export const scratchDirectory = (prefix: string) => {
  let directory = ""
  beforeAll(async () => {
    directory = await fs.mkdtemp(path.join(os.tmpdir(), prefix))
  })
  afterAll(() => fs.rm(directory, { recursive: true, force: true }))
  return {
    /** `name` inside the directory (the directory itself without one). */
    path: (name = "") => path.join(directory, name),
    /** Writes `bytes` to `name` inside the directory; its path. */
    write: async (name: string, bytes: Uint8Array) => {
      const file = path.join(directory, name)
      await fs.writeFile(file, bytes)
      return file
    }
  }
}
