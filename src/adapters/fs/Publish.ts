/**
 * Publishing a finished partial file under its final name without ever
 * replacing an existing file, and keeping every path inside the save
 * directory.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"

export const errorCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined

/** The result of `operation`, or undefined when the file it touches does not exist (ENOENT). */
export const unlessMissing = <A>(operation: Promise<A>): Promise<A | undefined> =>
  operation.catch((cause: unknown) => (errorCode(cause) === "ENOENT" ? undefined : Promise.reject(cause)))

/**
 * Deletes the file at `filePath`, if there is one: one unlink(2), where
 * `fs.rm` with `force` first asks lstat(2) what it is.
 */
export const removeFile = async (filePath: string): Promise<void> => {
  await unlessMissing(fs.unlink(filePath))
}

/** Resolves `name` inside `directory`, refusing anything that would land elsewhere. */
export const inside = (directory: string, name: string): string => {
  const target = path.resolve(directory, name)
  if (path.dirname(target) !== directory || name.includes("/") || name.includes("\\")) {
    throw new Error(`refusing a path outside the save directory: ${JSON.stringify(name)}`)
  }
  return target
}

/**
 * Publishes `partialPath` as `finalPath` without ever replacing an existing
 * file; false when `finalPath` is taken. With hard links the partial name
 * stays too, for the caller to remove.
 */
export const publish = async (partialPath: string, finalPath: string): Promise<boolean> => {
  try {
    await fs.link(partialPath, finalPath)
  } catch (cause) {
    const code = errorCode(cause)
    if (code === "EEXIST") return false
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw cause
    return publishWithoutLinks(partialPath, finalPath)
  }
  // The partial name stays for the caller to remove (see FsFileStore's commit).
  return true
}

/**
 * For filesystems without hard links (some network or FUSE mounts): reserve
 * the name with an exclusive create, then rename over the reservation.
 */
const publishWithoutLinks = async (partialPath: string, finalPath: string): Promise<boolean> => {
  try {
    await (await fs.open(finalPath, "wx")).close()
  } catch (cause) {
    if (errorCode(cause) === "EEXIST") return false
    throw cause
  }
  try {
    await fs.rename(partialPath, finalPath)
    return true
  } catch (cause) {
    await removeFile(finalPath)
    throw cause
  }
}

