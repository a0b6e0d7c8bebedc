/**
 * Opening files in the save directory without ever following a link.
 * Anyone who can write the directory can plant a symlink, a FIFO, a
 * directory or a hard link to a file elsewhere at a name the server uses.
 * Every open adds O_NOFOLLOW (a symlink fails with ELOOP) and O_NONBLOCK (a
 * FIFO without a reader fails with ENXIO instead of blocking the thread),
 * then fstat checks the opened descriptor: only a regular file whose every
 * name is in the directory is read, appended to or published. O_NONBLOCK
 * changes nothing for regular files.
 */
import { Data } from "effect"
import { constants, type Stats } from "node:fs"
import * as path from "node:path"
import * as fs from "./FsCalls.js"

export const errorCode = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined

export const { O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_WRONLY } = constants

/** What stood at a name where a regular file of the directory, and only that, was expected. */
export class UnsafeFile extends Data.TaggedError("UnsafeFile")<{ readonly found: string }> {
  override get message(): string {
    return `refusing ${this.found}`
  }
}

/** What open(2) with O_NOFOLLOW | O_NONBLOCK says when the name holds no regular file (EMLINK: a symlink on FreeBSD). */
const REFUSED_OPENS: Record<string, string> = {
  ELOOP: "a symbolic link",
  EMLINK: "a symbolic link",
  EISDIR: "a directory",
  ENXIO: "a FIFO or a socket"
}

/** What `stats` (an lstat or fstat) says a name holds, for messages. */
export const kindOf = (stats: Stats): string =>
  stats.isFile()
    ? "a regular file"
    : stats.isSymbolicLink()
    ? "a symbolic link"
    : stats.isDirectory()
    ? "a directory"
    : stats.isFIFO()
    ? "a FIFO"
    : stats.isSocket()
    ? "a socket"
    : "a device"

export const sameFile = (a: Stats, b: Stats): boolean => a.dev === b.dev && a.ino === b.ino

/**
 * Refuses `stats` unless it is a regular file with no name outside
 * `directory`. With one link that is plain. With more, every other name must
 * be an entry of `directory` (a crash between publish's link(2) and unlink(2)
 * leaves the partial and its stored name on one inode); a hard link to a file
 * elsewhere has a name this count cannot find. Without `directory`, the file
 * must have exactly one name.
 */
export const checkRegular = async (stats: Stats, directory?: string): Promise<void> => {
  if (!stats.isFile()) throw new UnsafeFile({ found: `${kindOf(stats)} where a regular file belongs` })
  if (stats.nlink === 1) return
  const names = directory === undefined ? 0 : await namesIn(directory, stats)
  if (names !== stats.nlink) throw new UnsafeFile({ found: "a hard link to a file with a name outside the directory" })
}

/** How many entries of `directory` are the file `stats` describes. */
const namesIn = async (directory: string, stats: Stats): Promise<number> => {
  let names = 0
  for (const entry of await fs.readdirWithTypes(directory)) {
    if (!entry.isFile()) continue
    const other = await fs.lstat(path.join(directory, entry.name)).catch(() => undefined)
    if (other !== undefined && sameFile(other, stats)) names++
  }
  return names
}

export interface OpenedFile {
  readonly handle: fs.File
  /** fstat of the descriptor when it was opened: what the name must still point to later. */
  readonly stats: Stats
}

/**
 * Opens `file` with `flags` (plus O_NOFOLLOW | O_NONBLOCK) and checks the
 * descriptor (see `checkRegular`, which `linksWithin` is passed to); the
 * caller closes it. Fails with UnsafeFile when the name holds anything else.
 */
export const openRegular = async (
  file: string,
  flags: number,
  options: { readonly mode?: number; readonly linksWithin?: string } = {}
): Promise<OpenedFile> => {
  const handle = await fs.open(file, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK, options.mode ?? 0o666).catch(
    (cause: unknown) => {
      const found = REFUSED_OPENS[errorCode(cause) ?? ""]
      return Promise.reject(found === undefined ? cause : new UnsafeFile({ found: `${found} where a regular file belongs` }))
    }
  )
  try {
    const stats = await handle.stat()
    await checkRegular(stats, options.linksWithin)
    return { handle, stats }
  } catch (cause) {
    await handle.close().catch(() => undefined)
    throw cause
  }
}

/** Runs `use` on `file` opened with `openRegular`, and closes it. */
const withRegular = async <A>(file: string, flags: number, mode: number | undefined, use: (opened: OpenedFile) => Promise<A>): Promise<A> => {
  const opened = await openRegular(file, flags, mode === undefined ? {} : { mode })
  try {
    return await use(opened)
  } finally {
    await opened.handle.close()
  }
}

/** The text of the regular file `file`. */
export const readRegular = (file: string): Promise<string> =>
  withRegular(file, O_RDONLY, undefined, ({ handle, stats }) => handle.readText(stats.size))

/**
 * Appends `text` to the regular file `file`, creating it (with `mode`) if
 * missing unless `create` is false (then it fails with ENOENT); with `sync`,
 * flushes the file to stable storage before it returns.
 */
export const appendRegular = (
  file: string,
  text: string,
  options: { readonly mode?: number; readonly sync?: boolean; readonly create?: boolean } = {}
): Promise<void> =>
  withRegular(file, O_WRONLY | O_APPEND | (options.create === false ? 0 : O_CREAT), options.mode, async ({ handle }) => {
    await handle.writeText(text)
    if (options.sync === true) await handle.sync()
  })

/**
 * Writes `text` to a new file `temporary` and renames it to `target`.
 * The exclusive create never writes into an existing file, nor through a
 * link: a leftover at `temporary` (a crash's, or anything planted there) is
 * unlinked, and the create tried once more. A file this create made is a
 * new regular file, so it needs no fstat to show it. With `sync`, the new
 * file is fsynced before the rename.
 */
export const replaceRegular = async (
  temporary: string,
  target: string,
  text: string,
  options: { readonly mode?: number; readonly sync?: boolean } = {}
): Promise<void> => {
  const create = () => fs.open(temporary, O_WRONLY | O_CREAT | O_EXCL | constants.O_NOFOLLOW | constants.O_NONBLOCK, options.mode ?? 0o666)
  const handle = await create().catch(async (cause: unknown) => {
    if (errorCode(cause) !== "EEXIST") throw cause
    await fs.unlink(temporary).catch((gone: unknown) => (errorCode(gone) === "ENOENT" ? undefined : Promise.reject(gone)))
    return create()
  })
  try {
    await handle.writeText(text)
    // On stable storage before the rename makes it the record (the directory is the caller's to flush).
    if (options.sync === true) await handle.sync()
  } finally {
    await handle.close()
  }
  await fs.rename(temporary, target)
}
