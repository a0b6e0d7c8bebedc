/**
 * What lets a second run of `file-receiver upload` resume the first one's
 * uploads: a small JSON file in the user's cache directory
 * (`$XDG_CACHE_HOME/file-receiver/uploads.json`, else
 * `~/.cache/file-receiver/uploads.json`; directory 0700, file 0600) mapping
 * server URL + absolute path + size + mtime to the `upload_id` the server
 * handed out. A file that changed on disk no longer matches and starts over.
 *
 * Every write reads the file again, changes one entry and replaces it
 * atomically (a temporary file, then rename), synchronously, so a CLI that
 * is killed leaves either the old or the new file. A file that cannot be
 * read or parsed is ignored with one warning, never a crash; entries older
 * than a week (longer than a server keeps an upload by default) are dropped.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

export interface FileIdentity {
  /** The endpoint without its query (the token is never stored). */
  readonly url: string
  readonly absolutePath: string
  readonly size: number
  readonly mtimeMs: number
}

export interface ResumeState {
  readonly file: string
  readonly get: (identity: FileIdentity) => string | undefined
  readonly set: (identity: FileIdentity, uploadId: string) => void
  readonly remove: (identity: FileIdentity) => void
}

interface Entry {
  readonly uploadId: string
  readonly savedAt: number
}

const STALE_MS = 7 * 24 * 3600 * 1000

/** The state file's directory: `$XDG_CACHE_HOME/file-receiver` (when absolute), else `~/.cache/file-receiver`. */
export const stateDirectory = (env: NodeJS.ProcessEnv): string => {
  const cache = env["XDG_CACHE_HOME"]
  return path.join(cache !== undefined && path.isAbsolute(cache) ? cache : path.join(os.homedir(), ".cache"), "file-receiver")
}

const keyOf = (identity: FileIdentity) => JSON.stringify([identity.url, identity.absolutePath, identity.size, identity.mtimeMs])

/** The state in `directory`; `warn` hears once of a state file that could not be read or written. */
export const open = (directory: string, warn: (text: string) => void): ResumeState => {
  const file = path.join(directory, "uploads.json")
  let warned = false
  const warnOnce = (text: string) => {
    if (warned) return
    warned = true
    warn(text)
  }

  const read = (): Record<string, Entry> => {
    let text: string
    try {
      text = fs.readFileSync(file, "utf8")
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") warnOnce(`cannot read ${file} (${(error as Error).message}); uploads will not resume`)
      return {}
    }
    try {
      const parsed: unknown = JSON.parse(text)
      if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not a JSON object")
      const entries: Record<string, Entry> = {}
      for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
        const entry = value as Partial<Entry> | null
        if (typeof entry?.uploadId === "string" && typeof entry.savedAt === "number") entries[key] = { uploadId: entry.uploadId, savedAt: entry.savedAt }
      }
      return entries
    } catch (error) {
      warnOnce(`ignoring ${file}: it is not a valid state file (${(error as Error).message}); it will be replaced`)
      return {}
    }
  }

  const update = (change: (entries: Record<string, Entry>) => void) => {
    const entries = read()
    const now = Date.now()
    for (const [key, entry] of Object.entries(entries)) if (now - entry.savedAt > STALE_MS) delete entries[key]
    change(entries)
    const temporary = `${file}.${process.pid}.${now}.tmp`
    try {
      fs.mkdirSync(directory, { recursive: true, mode: 0o700 })
      fs.writeFileSync(temporary, `${JSON.stringify(entries, null, 1)}\n`, { mode: 0o600 })
      fs.renameSync(temporary, file)
    } catch (error) {
      fs.rmSync(temporary, { force: true })
      warnOnce(`cannot write ${file} (${(error as Error).message}); uploads will not resume`)
    }
  }

  return {
    file,
    get: (identity) => read()[keyOf(identity)]?.uploadId,
    set: (identity, uploadId) => update((entries) => void (entries[keyOf(identity)] = { uploadId, savedAt: Date.now() })),
    remove: (identity) => {
      if (read()[keyOf(identity)] !== undefined) update((entries) => void delete entries[keyOf(identity)])
    }
  }
}
