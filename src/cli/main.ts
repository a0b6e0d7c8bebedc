/**
 * The `file-receiver` command:
 *   file-receiver upload FILE... [--url URL] [--sha256] [--token TOKEN] [--chunk-size BYTES] [--window N] [--retries N]
 *                                [--cancel-on-interrupt]
 *   file-receiver serve          (the server from source, as `npm run dev`; configured by the environment)
 * `upload` sends the files one after another with the client library,
 * resuming after dropped connections and, through a state file in the
 * user's cache (ResumeState.ts), across runs: a run that was killed or
 * interrupted is resumed by running the same command again. It exits 1 if any
 * file failed (2 for a usage error, 130 when interrupted).
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { ConnectionFailedError, HandshakeRefusedError, UploadCancelledError, UploadError, type UploadResult } from "../client/index.js"
import { formatBytes } from "../client/Format.js"
import { uploadFile } from "../client/node.js"
import { UPLOAD_PATH } from "../domain/UploadPath.js"
import * as ProgressLine from "./ProgressLine.js"
import * as ResumeState from "./ResumeState.js"

const DEFAULT_URL = `ws://127.0.0.1:8000${UPLOAD_PATH}`

const USAGE = `Usage:
  file-receiver upload FILE... [options]   send files to a file-receiver server
  file-receiver serve                      start the server (as npm run dev; settings from the environment)

Options for upload:
  --url URL            the upload endpoint, ws(s):// or http(s):// (default ${DEFAULT_URL})
  --sha256             hash each file first and have the server check it
  --token TOKEN        sent as ?token= at the handshake
  --chunk-size BYTES   bytes per chunk (default: the largest the server allows)
  --window N           chunks in flight (default 8, fewer for chunks over 4 MiB)
  --retries N          reconnections in a row without progress before giving up (default 6; 0: none)
  --cancel-on-interrupt
                       Ctrl-C discards the upload in progress on the server (default: it is kept,
                       and running the same command again resumes it)
  -h, --help           show this help

A killed or interrupted run is resumed by running the same command again: the upload ids are kept
in \$XDG_CACHE_HOME/file-receiver/uploads.json (default ~/.cache/file-receiver/) until each file is done.`

const integerAtLeast = (least: number) => (name: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined
  const value = Number(text)
  if (text.trim() === "" || !Number.isSafeInteger(value) || value < least) {
    throw new UsageError(`--${name} expects ${least === 0 ? "a whole number" : "a positive integer"}, got "${text}"`)
  }
  return value
}
const positiveInteger = integerAtLeast(1)

/** The endpoint as a ws(s) URL (http(s) converted): a typo is a usage error, not a failed upload. */
const endpoint = (text: string): string => {
  const url = URL.canParse(text) ? new URL(text) : undefined
  const protocol = url === undefined ? undefined : ({ "ws:": "ws:", "wss:": "wss:", "http:": "ws:", "https:": "wss:" } as const)[url.protocol]
  if (url === undefined || protocol === undefined) {
    throw new UsageError(`--url expects a ws://, wss://, http:// or https:// URL such as ${DEFAULT_URL}, got "${text}"`)
  }
  url.protocol = protocol
  return url.toString()
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
      "cancel-on-interrupt": { type: "boolean", default: false },
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

  const cancelOnInterrupt = values["cancel-on-interrupt"]
  const state = ResumeState.open(ResumeState.stateDirectory(process.env), (text) => process.stderr.write(`file-receiver: warning: ${text}\n`))
  const controller = new AbortController()
  process.once("SIGINT", () => controller.abort())
  // Files of this run whose upload the server still holds, for a later run to resume.
  const kept = new Set<string>()
  let failed = 0
  for (const file of positionals) {
    const name = path.basename(file)
    const line = ProgressLine.make(name, process.stdout)
    const identity = await identityOf(options.url, file)
    try {
      const result = await uploadFile(file, {
        ...options,
        uploadId: identity === undefined ? undefined : state.get(identity),
        onUploadId: (id) => identity !== undefined && state.set(identity, id),
        signal: controller.signal,
        keepOnAbort: !cancelOnInterrupt,
        onProgress: line.update,
        // The reason says what happened: "connection lost (code 1006)", the server's own words for a busy upload or a
        // storage outage, or the wait the server's limits ask for ("waiting 23 s for the rate limit").
        onReconnect: (info) =>
          line.note(info.cause === "rate_limited" || info.cause === "too_many_connections"
            ? info.reason
            : `${info.reason}; retrying in ${(info.delayMs / 1000).toFixed(1)} s`),
        onWait: (info) => line.note(info.reason)
      })
      if (identity !== undefined) state.remove(identity)
      line.end(doneLine(name, result))
    } catch (error) {
      failed++
      // What the server holds is worth a rerun only when nothing was wrong with the file or the upload itself.
      const resumable = error instanceof ConnectionFailedError || error instanceof HandshakeRefusedError ||
        (error instanceof UploadCancelledError && error.kept)
      if (identity !== undefined) {
        if (resumable && state.get(identity) !== undefined) kept.add(identity.absolutePath)
        else state.remove(identity)
      }
      if (error instanceof UploadCancelledError) {
        line.end(error.kept ? "interrupted: kept on the server" : cancelOnInterrupt ? "cancelled: discarded on the server" : "interrupted")
        process.stdout.write(`${interruptedLine(kept.size, cancelOnInterrupt)}\n`)
        return 130
      }
      line.end(`failed: ${error instanceof UploadError ? error.message : String(error)}`)
    }
  }
  if (positionals.length > 1) {
    process.stdout.write(`${positionals.length - failed} of ${positionals.length} files uploaded\n`)
  }
  return failed === 0 ? 0 : 1
}

/** What keys a file's entry in the state file; undefined when it cannot be read (the upload reports why). */
const identityOf = async (url: string, file: string): Promise<ResumeState.FileIdentity | undefined> => {
  const absolutePath = path.resolve(file)
  const stats = await fs.stat(absolutePath).catch(() => undefined)
  if (stats === undefined || !stats.isFile()) return undefined
  const endpointUrl = new URL(url)
  endpointUrl.search = ""
  return { url: endpointUrl.toString(), absolutePath, size: stats.size, mtimeMs: stats.mtimeMs }
}

/** `done: stored as NAME (sha256 …)`, with the name asked for when the server stored it under another. */
const doneLine = (name: string, result: UploadResult): string => {
  const asked = result.storedName !== "" && result.storedName.normalize("NFC") !== name.normalize("NFC") ? `asked for ${JSON.stringify(name)}; ` : ""
  const notes = [
    `sha256 ${result.sha256 ?? "not reported"}`,
    result.resumedFrom > 0 ? `resumed from ${formatBytes(result.resumedFrom)} sent by an earlier run` : "",
    result.reconnects > 0 ? `resumed ${result.reconnects}x` : ""
  ].filter((note) => note !== "")
  return `done: stored as ${result.storedName} (${asked}${notes.join(", ")})`
}

const interruptedLine = (kept: number, cancelled: boolean): string => {
  const uploads = `${kept} upload${kept === 1 ? "" : "s"}`
  if (kept > 0) return `interrupted: ${uploads} kept on the server; run the same command again to resume`
  return cancelled
    ? "interrupted: the upload in progress was discarded on the server"
    : "interrupted: no upload was kept on the server; run the same command again to send the files"
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
