/**
 * Publishing a finished partial file under its final name without ever
 * replacing an existing file, keeping every path inside the save
 * directory, and publishing only the file that was written (never a link
 * or another file put at the partial's name).
 */
import type { Stats } from "node:fs"
import * as path from "node:path"
import * as fs from "./FsCalls.js"
import { checkRegular, errorCode, kindOf, O_CREAT, O_EXCL, O_WRONLY, sameFile, UnsafeFile } from "./RegularFile.js"

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
 * The lstat of `partialPath`, once it is shown to be still the file that
 * was written through a descriptor whose fstat is `written` (same dev and
 * inode, a regular file, no name outside its directory: see checkRegular).
 */
export const stillWritten = async (partialPath: string, written: Stats): Promise<Stats> => {
  const now = await fs.lstat(partialPath)
  if (!sameFile(now, written)) throw new UnsafeFile({ found: `${kindOf(now)} put in place of the file written` })
  await checkRegular(now, path.dirname(partialPath))
  return now
}

/** Takes `finalPath` back (unlinks the name, never what it points to) unless it is the file written. */
const confirmPublished = async (finalPath: string, written: Stats): Promise<void> => {
  const published = await fs.lstat(finalPath)
  if (sameFile(published, written)) return
  await removeFile(finalPath)
  throw new UnsafeFile({ found: `${kindOf(published)} put in place of the file written while it was published` })
}

/**
 * Publishes `partialPath` as `finalPath` without ever replacing an existing
 * file; false when `finalPath` is taken. `written` is the fstat of the
 * descriptor the partial was written through: the partial's name is checked
 * to be still that file before link(2), and since the name can be swapped
 * in between, the published name after it. With hard links the partial
 * name stays too, for the caller to remove.
 */
export const publish = async (
  partialPath: string,
  finalPath: string,
  written: Stats,
  /** The caller has just checked it with `stillWritten` (the published name is checked after link(2) all the same). */
  partialChecked = false
): Promise<boolean> => {
  if (!partialChecked) await stillWritten(partialPath, written)
  try {
    await fs.link(partialPath, finalPath)
  } catch (cause) {
    const code = errorCode(cause)
    if (code === "EEXIST") return false
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP") throw cause
    return publishWithoutLinks(partialPath, finalPath, written)
  }
  await confirmPublished(finalPath, written)
  // The partial name stays for the caller to remove (see FsFileStore's commit).
  return true
}

/**
 * For filesystems without hard links (some network or FUSE mounts): reserve
 * the name with an exclusive create, then rename over the reservation.
 */
const publishWithoutLinks = async (partialPath: string, finalPath: string, written: Stats): Promise<boolean> => {
  try {
    await (await fs.open(finalPath, O_WRONLY | O_CREAT | O_EXCL)).close()
  } catch (cause) {
    if (errorCode(cause) === "EEXIST") return false
    throw cause
  }
  try {
    await fs.rename(partialPath, finalPath)
  } catch (cause) {
    await removeFile(finalPath)
    throw cause
  }
  await confirmPublished(finalPath, written)
  return true
}

