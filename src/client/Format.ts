/** How the page and the CLI write sizes, rates and times. */

const UNITS = ["KiB", "MiB", "GiB", "TiB"]

/** `1.4 MiB`, `512 B`. */
export const formatBytes = (bytes: number): string => {
  if (bytes < 1024) return `${bytes} B`
  let value = bytes
  let unit = -1
  do {
    value /= 1024
    unit++
  } while (value >= 1024 && unit < UNITS.length - 1)
  return `${Number.isInteger(value) ? value : value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`
}

/** `4 s`, `2 min 5 s`, `3 h 10 min` (rounded up to the second). */
export const formatDuration = (seconds: number): string => {
  const whole = Math.max(0, Math.ceil(seconds))
  if (whole < 60) return `${whole} s`
  const minutes = Math.floor(whole / 60)
  if (minutes < 60) return `${minutes} min ${whole % 60} s`
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`
}

/** `4 s left`, `2 min 5 s left`, or empty while unknown. */
export const formatEta = (seconds: number | undefined): string =>
  seconds === undefined || !Number.isFinite(seconds) ? "" : `${formatDuration(seconds)} left`

/**
 * The extension the server will check, or "" when the name has none: the name is
 * cleaned as the server cleans it (last path component, only letters, digits,
 * `.`, `_` and `-`, no leading or trailing dots), then lower-cased after the last dot.
 */
export const extensionOf = (name: string): string => {
  const cleaned = (name.split(/[/\\]/).pop() ?? "")
    .normalize("NFC")
    .replace(/[^\p{L}\p{N}._-]/gu, "")
    .replace(/^\.+|\.+$/g, "")
  const dot = cleaned.lastIndexOf(".")
  return dot <= 0 ? "" : cleaned.slice(dot + 1).toLowerCase()
}
