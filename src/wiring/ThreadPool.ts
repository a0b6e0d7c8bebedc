/**
 * The size of libuv's thread pool (UV_THREADPOOL_SIZE), which runs every
 * file-system call the server makes. What the operator sets is kept;
 * otherwise the pool gets one thread per core, at least 2 and at most Node's
 * default of 4. On a machine with fewer cores than Node's 4 threads, those
 * threads take the CPU from the event loop's thread whenever files are
 * created, synced and renamed at once (measured in docs/performance.md). Two
 * threads rather than one, so that one slow fsync does not hold up every
 * other call. On 4 cores or more this is Node's default. The pool also runs
 * `dns.lookup` (the hosts of Redis, S3 and webhooks).
 *
 * libuv reads the variable once, when the pool starts, which Node's ES module
 * loader does to read its first file: `src/start.ts` (built as the CommonJS
 * `dist/start.cjs`, which Node reads synchronously) sets it before that.
 */

/** Node's own pool size, when UV_THREADPOOL_SIZE is not set. */
export const NODE_DEFAULT_THREADS = 4

/** UV_THREADPOOL_SIZE for a machine with `cores` (os.availableParallelism()), given what is `configured`. */
export const threadPoolSize = (configured: string | undefined, cores: number): string =>
  configured !== undefined && configured.trim() !== ""
    ? configured
    : String(Math.min(NODE_DEFAULT_THREADS, Math.max(2, Math.floor(cores))))
