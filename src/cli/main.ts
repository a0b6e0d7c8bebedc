/**
 * The `file-receiver` command:
 *   file-receiver upload FILE... [--url URL] [--sha256] [--token TOKEN] [--chunk-size BYTES] [--window N] [--retries N]
 *   file-receiver serve          (the server, as `npm start`; configured by the environment)
 * `upload` sends the files one after another with the client library,
 * resuming after dropped connections, and exits 1 if any of them failed
 * (2 for a usage error, 130 when interrupted).
 */
import * as path from "node:path"
import { parseArgs } from "node:util"
import { UploadCancelledError, UploadError } from "../client/index.js"
import { uploadFile } from "../client/node.js"
import * as ProgressLine from "./ProgressLine.js"

const DEFAULT_URL = "ws://127.0.0.1:8000/ws/file-transfer/"

const USAGE = `Usage:
  file-receiver upload FILE... [options]   send files to a file-receiver server
  file-receiver serve                      start the server (as npm start; settings from the environment)

Options for upload:
  --url URL            WebSocket endpoint (default ${DEFAULT_URL})
  --sha256             hash each file first and have the server check it
  --token TOKEN        sent as ?token= at the handshake
  --chunk-size BYTES   bytes per chunk (default 262144)
  --window N           chunks in flight (default 8)
  --retries N          reconnections in a row without progress before giving up (default 6; 0: none)
  -h, --help           show this help`

const integerAtLeast = (least: number) => (name: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined
  const value = Number(text)
  if (text.trim() === "" || !Number.isSafeInteger(value) || value < least) {
    throw new UsageError(`--${name} expects ${least === 0 ? "a whole number" : "a positive integer"}, got "${text}"`)
  }
  return value
}
const positiveInteger = integerAtLeast(1)

/** The endpoint as given, if it is a WebSocket (or http) URL: a typo is a usage error, not a failed upload. */
const endpoint = (text: string): string => {
  const protocol = URL.canParse(text) ? new URL(text).protocol : undefined
  if (protocol === "ws:" || protocol === "wss:" || protocol === "http:" || protocol === "https:") return text
  throw new UsageError(`--url expects a ws:// or wss:// URL, got "${text}"`)
}

class UsageError extends Error {}

const uploadCommand = async (args: ReadonlyArray<string>): Promise<number> => {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      url: { type: "string", default: DEFAULT_URL },
      sha256: { type: "boolean", default: false },
      token: { type: "string" },
      "chunk-size": { type: "string" },
      window: { type: "string" },
      retries: { type: "string" },
      help: { type: "boolean", short: "h" }
    }
  })
  if (values.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const options = {
    url: endpoint(values.url),
    token: values.token,
    sha256: values.sha256,
    chunkBytes: positiveInteger("chunk-size", values["chunk-size"]),
    window: positiveInteger("window", values.window),
    retries: integerAtLeast(0)("retries", values.retries)
  }
  if (positionals.length === 0) throw new UsageError("upload needs at least one FILE")

  const controller = new AbortController()
  process.once("SIGINT", () => controller.abort())
  let failed = 0
  for (const file of positionals) {
    const line = ProgressLine.make(path.basename(file), process.stdout)
    try {
      const result = await uploadFile(file, {
        ...options,
        signal: controller.signal,
        onProgress: line.update,
        // The reason says what happened: "connection lost (code 1006)", or the server's own words for a busy upload or a storage outage.
        onReconnect: (info) => line.note(`${info.reason}; retrying in ${(info.delayMs / 1000).toFixed(1)} s`)
      })
      const resumed = result.reconnects > 0 ? `, resumed ${result.reconnects}x` : ""
      line.end(`done: stored as ${result.storedName} (sha256 ${result.sha256 ?? "not reported"}${resumed})`)
    } catch (error) {
      failed++
      line.end(`failed: ${error instanceof UploadError ? error.message : String(error)}`)
      if (error instanceof UploadCancelledError) return 130
    }
  }
  if (positionals.length > 1) {
    process.stdout.write(`${positionals.length - failed} of ${positionals.length} files uploaded\n`)
  }
  return failed === 0 ? 0 : 1
}

const main = async (argv: ReadonlyArray<string>): Promise<number | undefined> => {
  const [command, ...rest] = argv
  switch (command) {
    case "upload":
      return uploadCommand(rest)
    case "serve":
      // The server runs until SIGINT/SIGTERM and sets the exit code itself.
      await import("../main.js")
      return undefined
    case "-h":
    case "--help":
    case "help":
      process.stdout.write(`${USAGE}\n`)
      return 0
    default:
      throw new UsageError(command === undefined ? "a command is required" : `unknown command "${command}"`)
  }
}

try {
  const code = await main(process.argv.slice(2))
  if (code !== undefined) process.exitCode = code
} catch (error) {
  const message = error instanceof Error ? error.message : String(error)
  process.stderr.write(`file-receiver: ${message}\n${error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS") ? `\n${USAGE}\n` : ""}`)
  process.exitCode = 2
}
