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
 * descriptor. It is closed once, however often `close` is called (a
 * descriptor number closed twice could be another file's by then), and a
 * `File` dropped without being closed has its descriptor closed when it is
 * collected, as a FileHandle does.
 */
import * as fs from "node:fs"

type Callback<A> = (error: NodeJS.ErrnoException | null, value: A) => void

/** A promise of what the callback-style `call` passes to its callback. */
const promised = <A>(call: (callback: Callback<A>) => void): Promise<A> =>
  new Promise<A>((resolve, reject) => call((error, value) => (error === null ? resolve(value) : reject(error))))

const done = (resolve: () => void, reject: (error: unknown) => void) => (error: NodeJS.ErrnoException | null) =>
  error === null ? resolve() : reject(error)

const voided = (call: (callback: (error: NodeJS.ErrnoException | null) => void) => void): Promise<void> =>
  new Promise<void>((resolve, reject) => call(done(resolve, reject)))

export const lstat = (file: string): Promise<fs.Stats> => promised((callback) => fs.lstat(file, callback))
export const statfs = (file: string): Promise<fs.StatsFs> => promised((callback) => fs.statfs(file, callback))
export const link = (existing: string, created: string): Promise<void> => voided((callback) => fs.link(existing, created, callback))
export const rename = (from: string, to: string): Promise<void> => voided((callback) => fs.rename(from, to, callback))
export const unlink = (file: string): Promise<void> => voided((callback) => fs.unlink(file, callback))
export const readdir = (directory: string): Promise<Array<string>> => promised((callback) => fs.readdir(directory, callback))
export const readdirWithTypes = (directory: string): Promise<Array<fs.Dirent>> =>
  promised((callback) => fs.readdir(directory, { withFileTypes: true }, callback))

/** Descriptors of the `File`s not closed yet, closed when their `File` is collected. */
const unclosed = new FinalizationRegistry<number>((fd) => fs.close(fd, () => undefined))

/** How much `readText` reads at a time. */
const READ_BYTES = 64 * 1024

/** An open file: the part of fs/promises' FileHandle the adapters use. */
export class File {
  #closed = false
  #closing: Promise<void> | undefined

  constructor(readonly fd: number) {
    unclosed.register(this, fd, this)
  }

  stat(): Promise<fs.Stats> {
    return promised((callback) => fs.fstat(this.fd, callback))
  }

  /** Writes `length` bytes of `bytes` from `offset`, at `position` (null: the file's current offset); one write(2). */
  write(bytes: Uint8Array, offset: number, length: number, position: number | null): Promise<number> {
    return promised((callback) => fs.write(this.fd, bytes, offset, length, position, callback))
  }

  /** Writes all of `text` at the file's current offset (its end, when opened with O_APPEND). */
  async writeText(text: string): Promise<void> {
    const bytes = Buffer.from(text)
    let written = 0
    while (written < bytes.length) {
      const count = await this.write(bytes, written, bytes.length - written, null)
      if (count <= 0) throw new Error("the file accepted no bytes")
      written += count
    }
  }

  /** The file's text from its current offset to its end. */
  async readText(): Promise<string> {
    const parts: Array<Buffer> = []
    for (;;) {
      const buffer = Buffer.allocUnsafe(READ_BYTES)
      const count = await promised<number>((callback) => fs.read(this.fd, buffer, 0, READ_BYTES, null, callback))
      if (count === 0) return Buffer.concat(parts).toString("utf8")
      parts.push(buffer.subarray(0, count))
    }
  }

  /** fsync(2). */
  sync(): Promise<void> {
    return voided((callback) => fs.fsync(this.fd, callback))
  }

  /** fdatasync(2). */
  datasync(): Promise<void> {
    return voided((callback) => fs.fdatasync(this.fd, callback))
  }

  /** Closes the descriptor, once: later calls wait for the same close. */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    this.#detach()
    this.#closing = voided((callback) => fs.close(this.fd, callback))
    return this.#closing
  }

  /** Hands the descriptor over to a new owner (a read stream, say), which closes it; this `File` no longer will. */
  handOver(): number {
    if (this.#closed) throw new Error("the file is closed")
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
