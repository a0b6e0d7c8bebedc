/**
 * Progress of one upload: bytes the server confirmed, the rate over the last
 * few seconds, and the time left at that rate.
 */

export interface UploadProgress {
  /** "hashing" while the file is read for its sha256, "uploading" while bytes go out, "reconnecting" while waiting to retry. */
  readonly phase: "hashing" | "uploading" | "reconnecting"
  /** Bytes hashed (hashing) or confirmed by the server (otherwise). */
  readonly bytes: number
  readonly total: number
  /** Bytes per second over the last few seconds (0 until known). */
  readonly rate: number
  /** Seconds left at that rate, or undefined while unknown. */
  readonly eta: number | undefined
}

const RATE_WINDOW_MS = 3000

export interface ProgressMeter {
  /** Bytes the server has confirmed. */
  readonly acked: () => number
  readonly hashing: (bytes: number) => void
  readonly reconnecting: () => void
  /**
   * The server holds `offset` bytes at the start of a connection. It may be below `acked()` (the
   * server lost bytes it had confirmed): progress goes back to it, and the rate starts afresh.
   */
  readonly resumeAt: (offset: number) => void
  readonly acknowledged: (bytes: number) => void
}

export const makeProgressMeter = (
  total: number,
  onProgress: ((progress: UploadProgress) => void) | undefined
): ProgressMeter => {
  let acked = 0
  let samples: Array<{ readonly at: number; readonly bytes: number }> = []

  const report = () => {
    const first = samples[0], last = samples[samples.length - 1]
    const elapsed = first !== undefined && last !== undefined ? (last.at - first.at) / 1000 : 0
    const rate = elapsed > 0 ? (last!.bytes - first!.bytes) / elapsed : 0
    const left = total - acked
    onProgress?.({ phase: "uploading", bytes: acked, total, rate, eta: left === 0 ? 0 : rate > 0 ? left / rate : undefined })
  }

  return {
    acked: () => acked,
    hashing: (bytes) => onProgress?.({ phase: "hashing", bytes, total, rate: 0, eta: undefined }),
    reconnecting: () => {
      samples = []
      onProgress?.({ phase: "reconnecting", bytes: acked, total, rate: 0, eta: undefined })
    },
    resumeAt: (offset) => {
      acked = offset
      samples = [{ at: Date.now(), bytes: offset }]
      report()
    },
    acknowledged: (bytes) => {
      acked = Math.max(acked, bytes)
      const now = Date.now()
      samples.push({ at: now, bytes: acked })
      while (samples.length > 2 && now - samples[0]!.at > RATE_WINDOW_MS) samples.shift()
      report()
    }
  }
}
