/**
 * The page's memory of unfinished uploads, in localStorage, so that a file
 * chosen again after a reload resumes where the server stopped instead of
 * starting over (tus-js-client keeps its upload URLs the same way). One entry
 * per file and endpoint, keyed by a fingerprint of the file (name, size,
 * lastModified: the File API gives nothing steadier without reading it),
 * holding the server's upload_id, how far it got and when it was saved.
 * Entries older than a day, the server's default expiry, are dropped unread.
 */
/// <reference lib="dom" />

/** What identifies a chosen file across page loads. */
export interface FileIdentity {
  readonly name: string
  readonly size: number
  readonly lastModified: number
}

export interface RememberedUpload extends FileIdentity {
  readonly uploadId: string
  readonly endpoint: string
  /** Bytes the server had confirmed when this was saved. */
  readonly receivedBytes: number
  /** Date.now() when this was saved: the server expires an upload a day after its last chunk. */
  readonly savedAt: number
}

export interface UploadMemory {
  /** The fresh entry for this file at `endpoint`, if there is one. */
  readonly find: (file: FileIdentity, endpoint: string) => RememberedUpload | undefined
  /** Saves the entry for this file, replacing one with another upload_id. */
  readonly remember: (file: FileIdentity, endpoint: string, uploadId: string, receivedBytes: number) => void
  readonly forget: (file: FileIdentity, endpoint: string) => void
  /** Every fresh entry for `endpoint`, oldest first; stale and unreadable entries are removed. */
  readonly unfinished: (endpoint: string) => ReadonlyArray<RememberedUpload>
}

const PREFIX = "file-receiver:upload:"
/** UPLOAD_EXPIRY's default: after that the server has most likely deleted the partial file. */
export const MAX_AGE_MS = 24 * 60 * 60 * 1000

/** The storage key of a file's entry: the fingerprint, endpoint included. */
export const fingerprint = (file: FileIdentity, endpoint: string): string =>
  PREFIX + JSON.stringify([endpoint, file.name, file.size, file.lastModified])

const parse = (text: string | null): RememberedUpload | undefined => {
  if (text === null) return undefined
  try {
    const entry = JSON.parse(text) as Record<string, unknown>
    const { uploadId, endpoint, name, size, lastModified, receivedBytes, savedAt } = entry
    if (typeof uploadId !== "string" || typeof endpoint !== "string" || typeof name !== "string") return undefined
    if (![size, lastModified, receivedBytes, savedAt].every((n) => typeof n === "number" && Number.isFinite(n))) return undefined
    return { uploadId, endpoint, name, size, lastModified, receivedBytes, savedAt } as RememberedUpload
  } catch {
    return undefined
  }
}

/** localStorage, or undefined where the page may not use it (a sandboxed frame, storage disabled). */
export const openStorage = (): Storage | undefined => {
  try {
    return window.localStorage
  } catch (error) {
    console.warn("Uploads cannot be resumed after a reload: localStorage is not available", error)
    return undefined
  }
}

/** The memory in `storage`; without one it remembers nothing (uploads still resume within the page). */
export const makeUploadMemory = (storage: Storage | undefined, now: () => number = Date.now): UploadMemory => {
  let warned = false
  const write = (key: string, value: string | undefined) => {
    try {
      if (value === undefined) storage?.removeItem(key)
      else storage?.setItem(key, value)
    } catch (error) {
      // A full storage (QuotaExceededError): the upload goes on, it just cannot be resumed after a reload.
      if (!warned) console.warn("Could not save an unfinished upload in localStorage", error)
      warned = true
    }
  }
  const fresh = (entry: RememberedUpload | undefined): entry is RememberedUpload =>
    entry !== undefined && now() - entry.savedAt < MAX_AGE_MS

  return {
    find: (file, endpoint) => {
      const key = fingerprint(file, endpoint)
      const entry = parse(storage?.getItem(key) ?? null)
      if (fresh(entry)) return entry
      if (entry !== undefined) write(key, undefined)
      return undefined
    },
    remember: (file, endpoint, uploadId, receivedBytes) => {
      const entry: RememberedUpload = {
        uploadId,
        endpoint,
        name: file.name,
        size: file.size,
        lastModified: file.lastModified,
        receivedBytes,
        savedAt: now()
      }
      write(fingerprint(file, endpoint), JSON.stringify(entry))
    },
    forget: (file, endpoint) => write(fingerprint(file, endpoint), undefined),
    unfinished: (endpoint) => {
      if (storage === undefined) return []
      const keys: Array<string> = []
      for (let i = 0; i < storage.length; i++) {
        const key = storage.key(i)
        if (key !== null && key.startsWith(PREFIX)) keys.push(key)
      }
      const found: Array<RememberedUpload> = []
      for (const key of keys) {
        const entry = parse(storage.getItem(key))
        // Another endpoint's entries are that endpoint's business; unreadable or expired ones nobody's.
        if (fresh(entry) && key === fingerprint(entry, entry.endpoint)) {
          if (entry.endpoint === endpoint) found.push(entry)
        } else write(key, undefined)
      }
      return found.sort((a, b) => a.savedAt - b.savedAt)
    }
  }
}
