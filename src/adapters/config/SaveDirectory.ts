/**
 * The save directory (FILE_SAVE_DIRECTORY), checked and created at start-up
 * before any store opens it, so that a bad path stops start-up with an error
 * naming the setting rather than one about whichever store tried it first.
 *
 * It is created one level at a time, each level tried at most twice. Node's
 * recursive mkdir never returns for a path whose parent exists but cannot
 * hold it (under /proc, or behind a dangling symbolic link): mkdir(2) answers
 * ENOENT there, and Node creates the parent again and retries, for ever.
 */
import { Data, Effect } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { errorCode } from "../fs/RegularFile.js"

export class SaveDirectoryError extends Data.TaggedError("SaveDirectoryError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

class NotADirectory extends Error {}

/** Creates `directory` and its missing parents; fails with NotADirectory when it exists as something else. */
const create = async (directory: string): Promise<void> => {
  try {
    await fs.mkdir(directory)
  } catch (error) {
    const code = errorCode(error)
    if (code === "EEXIST") {
      if (!(await fs.stat(directory)).isDirectory()) throw new NotADirectory(directory)
      return
    }
    const parent = path.dirname(directory)
    if (code !== "ENOENT" || parent === directory) throw error
    await create(parent)
    // Once: if the parent now exists and this still answers ENOENT, it cannot be created.
    await fs.mkdir(directory).catch(async (retried: unknown) => {
      if (errorCode(retried) !== "EEXIST") throw retried
      if (!(await fs.stat(directory)).isDirectory()) throw new NotADirectory(directory)
    })
  }
}

/** Makes sure `directory` (FILE_SAVE_DIRECTORY) is a directory, creating it if missing. */
export const ensure = (directory: string): Effect.Effect<void, SaveDirectoryError> => {
  const resolved = path.resolve(directory)
  const shown = resolved === directory ? directory : `${directory} (${resolved})`
  return Effect.tryPromise({
    try: () => create(resolved),
    catch: (cause) =>
      cause instanceof NotADirectory
        ? new SaveDirectoryError({ message: `FILE_SAVE_DIRECTORY ${shown} is not a directory` })
        : new SaveDirectoryError({
          message: `cannot create FILE_SAVE_DIRECTORY ${shown}: ${cause instanceof Error ? cause.message : String(cause)}`,
          cause
        })
  })
}
