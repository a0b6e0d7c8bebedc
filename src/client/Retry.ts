/** Waiting between reconnection attempts: exponential backoff, cut short by cancellation. */
import { UploadCancelledError } from "./Errors.js"

/** The delay before the `failures`-th retry: `min` doubled per failure up to `max`, with jitter in its upper half. */
export const backoff = (failures: number, min: number, max: number): number => {
  const ceiling = Math.min(max, min * 2 ** (failures - 1))
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2))
}

/** Resolves after `ms`, or rejects with UploadCancelledError as soon as `signal` aborts. */
export const sleep = (ms: number, signal: AbortSignal | undefined) =>
  new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(new UploadCancelledError())
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort)
      resolve()
    }, ms)
    signal?.addEventListener("abort", onAbort, { once: true })
    if (signal?.aborted) onAbort()
  })
