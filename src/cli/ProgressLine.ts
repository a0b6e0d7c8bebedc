/**
 * How the CLI shows one file's upload: on a terminal, a bar redrawn in place
 * (`report.pdf  [██████░░░░]  61%  12.0 MiB/s  3 s left`); elsewhere (CI
 * logs, pipes), a plain line when the file starts, at every quarter, on each
 * reconnect and at the end.
 */
import type { UploadProgress } from "../client/index.js"
import { formatBytes, formatEta } from "../client/Format.js"

export interface ProgressLine {
  readonly update: (progress: UploadProgress) => void
  readonly note: (text: string) => void
  /** The final line for this file. */
  readonly end: (text: string) => void
}

const WIDTH = 24

/**
 * Control characters shown as `?`: a file name or a server's message must not be able to move
 * the cursor, rewrite the line or send escape sequences to the terminal.
 */
const printable = (text: string): string => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, "?")

const bar = (fraction: number) => {
  const filled = Math.round(fraction * WIDTH)
  return `[${"█".repeat(filled)}${"░".repeat(WIDTH - filled)}]`
}

export const make = (fileName: string, out: NodeJS.WriteStream): ProgressLine => {
  const name = printable(fileName)
  const tty = out.isTTY === true
  const label = name.length > 28 ? `${name.slice(0, 27)}…` : name.padEnd(28)
  let lastQuarter = -1
  const draw = (text: string) => out.write(`\r\x1b[2K${text}`)

  if (!tty) out.write(`${name}: starting\n`)
  return {
    update: (p) => {
      const fraction = p.total === 0 ? 1 : p.bytes / p.total
      if (tty) {
        const detail = p.phase === "hashing"
          ? "hashing"
          : p.phase === "reconnecting"
          ? "reconnecting…"
          : [`${Math.floor(fraction * 100)}%`.padStart(4), p.rate > 0 ? `${formatBytes(Math.round(p.rate))}/s` : "", formatEta(p.eta)]
            .filter((part) => part !== "")
            .join("  ")
        draw(`${label} ${bar(fraction)} ${detail}`)
        return
      }
      if (p.phase !== "uploading") return
      const quarter = Math.floor(fraction * 4)
      if (quarter > lastQuarter && quarter < 4) {
        lastQuarter = quarter
        out.write(`${name}: ${quarter * 25}% (${formatBytes(p.bytes)} of ${formatBytes(p.total)})\n`)
      }
    },
    note: (text) => {
      if (tty) draw(`${label} ${printable(text)}`)
      else out.write(`${name}: ${printable(text)}\n`)
    },
    end: (text) => (tty ? draw(`${label} ${printable(text)}\n`) : out.write(`${name}: ${printable(text)}\n`))
  }
}
