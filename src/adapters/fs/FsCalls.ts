/**
 * The file-system calls of the filesystem adapters, on Node's callback API
 * rather than `fs/promises`. Each call is still one trip to libuv's thread
 * pool, but without fs/promises' per-call request object, promise and
 * FileHandle, which cost the event loop two to four times as much CPU per
 * call (docs/performance.md: 8-15 against 3.5-6.5 µs for an lstat, 16-26
 * against 4.5-7 µs for an open and its close). An upload makes about twenty
 * of them.
 *
 * `File` is the part of FileHandle the adapters use, over a plain
 * descriptor. It is closed once, however often `close` is called, and every
 * call after that fails with EBADF (a descriptor number, once closed, can be
 * another file's); a `File` dropped without being closed has its descriptor
 * closed when it is collected, as a FileHandle does.
 */
import * as fs from "node:fs"

type Callback<A> = (error: NodeJS.ErrnoException | null, value: A) => void

/** A promise of what the callback-style `call` passes to its callback. */
const promised = <A>(call: (callback: Callback<A>) => void): Promise<A> =>
  new Promise<A>((resolve, reject) => call((error, value) => (error === null ? resolve(value) : reject(error))))

const voided = (call: (callback: (error: NodeJS.ErrnoException | null) => void) => void): Promise<void> =>
  new Promise<void>((resolve, reject) => call((error) => (error === null ? resolve() : reject(error))))

export const lstat = (file: string): Promise<fs.Stats> => promised((callback) => fs.lstat(file, callback))
export const statfs = (file: string): Promise<fs.StatsFs> => promised((callback) => fs.statfs(file, callback))
export const link = (existing: string, created: string): Promise<void> => voided((callback) => fs.link(existing, created, callback))
export const rename = (from: string, to: string): Promise<void> => voided((callback) => fs.rename(from, to, callback))
export const unlink = (file: string): Promise<void> => voided((callback) => fs.unlink(file, callback))
export const readdir = (directory: string): Promise<Array<string>> => promised((callback) => fs.readdir(directory, callback))
export const readdirWithTypes = (directory: string): Promise<Array<fs.Dirent>> =>
  promised((callback) => fs.readdir(directory, { withFileTypes: true }, callback))

/** Descriptors of the `File`s not closed yet, closed (with a warning: a leak is a bug) when their `File` is collected. */
const unclosed = new FinalizationRegistry<number>((fd) => {
  process.emitWarning(`Closing file descriptor ${fd} on garbage collection`)
  fs.close(fd, () => undefined)
})

/** What a call on a closed `File` fails with, rather than reach a descriptor number that may be another file's now. */
const closedError = () => Object.assign(new Error("EBADF: the file is closed"), { code: "EBADF" })

/** An open file: the part of fs/promises' FileHandle the adapters use. */
export class File {
  #closed = false
  #closing: Promise<void> | undefined

  constructor(readonly fd: number) {
    unclosed.register(this, fd, this)
  }

  /** The descriptor; throws EBADF once the file is closed or handed over (inside a promise's executor: a rejection). */
  #fd(): number {
    if (this.#closed) throw closedError()
    return this.fd
  }

  stat(): Promise<fs.Stats> {
    return promised((callback) => fs.fstat(this.#fd(), callback))
  }

  /** Writes `length` bytes of `bytes` from `offset`, at `position` (null: the file's current offset); one write(2). */
  write(bytes: Uint8Array, offset: number, length: number, position: number | null): Promise<number> {
    return promised((callback) => fs.write(this.#fd(), bytes, offset, length, position, callback))
  }

  /**
   * Writes all of `bytes` at the file's current offset (its end, when opened
   * with O_APPEND), however many write(2) calls that takes. The first is
   * issued before this returns.
   */
  async writeAll(bytes: Uint8Array): Promise<void> {
    let written = 0
    while (written < bytes.length) {
      const count = await this.write(bytes, written, bytes.length - written, null)
      if (count <= 0) throw new Error("the file accepted no bytes")
      written += count
    }
  }

  /** Writes all of `text`, as `writeAll` does. */
  writeText(text: string): Promise<void> {
    return this.writeAll(Buffer.from(text))
  }

  /**
   * The text of the `size` bytes from the file's current offset (its size
   * as fstat gave it), or fewer if it ends before: one read(2) for a file
   * that holds them, as fs/promises' readFile does after its fstat.
   */
  async readText(size: number): Promise<string> {
    const buffer = Buffer.allocUnsafe(size)
    let read = 0
    while (read < size) {
      const count = await promised<number>((callback) => fs.read(this.#fd(), buffer, read, size - read, null, callback))
      if (count === 0) break
      read += count
    }
    return buffer.toString("utf8", 0, read)
  }

  /** fsync(2). */
  sync(): Promise<void> {
    return voided((callback) => fs.fsync(this.#fd(), callback))
  }

  /** fdatasync(2). */
  datasync(): Promise<void> {
    return voided((callback) => fs.fdatasync(this.#fd(), callback))
  }

  /** Closes the descriptor, once: later calls wait for the same close. The caller has waited for its calls on it. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    this.#detach()
    this.#closing = voided((callback) => fs.close(this.fd, callback))
    return this.#closing
  }

  /** Hands the descriptor over to a new owner (a read stream, say), which closes it; this `File` no longer will. */
  handOver(): number {
    if (this.#closed) throw closedError()
    this.#detach()
    this.#closing = Promise.resolve()
    return this.fd
  }

  #detach() {
    this.#closed = true
    unclosed.unregister(this)
  }
}

/** open(2) of `file` with `flags` and `mode`. */
export const open = (file: string, flags: number, mode = 0o666): Promise<File> =>
  promised<number>((callback) => fs.open(file, flags, mode, callback)).then((fd) => new File(fd))
