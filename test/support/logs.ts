/** A logger for tests that keeps each line's level, text and annotations, to assert on what was logged. */
import { HashMap, Logger } from "effect"

export interface LogLine {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

/** The default logger replaced by one that appends every line to `lines`. */
export const recordingLogger = (lines: Array<LogLine>) =>
  Logger.replace(
    Logger.defaultLogger,
    Logger.make(({ annotations, logLevel, message }) =>
      lines.push({ level: logLevel.label, message: String(message), annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
    )
  )
