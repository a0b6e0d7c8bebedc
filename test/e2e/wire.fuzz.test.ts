/**
 * Wire fuzzer: thousands of random and malformed frames (fast-check) sent to a
 * real server over real WebSockets. Every reply must be a well-formed JSON
 * message of a known type; the server must survive (it still answers
 * /healthz and a normal upload); no file may appear outside the save
 * directory; and no frame may pollute Object.prototype. Any field may hold an
 * object with its own toString, valueOf, toJSON, __proto__ or constructor key. The seed is fixed
 * (FUZZ_SEED to change it, FUZZ_RUNS for the number of sequences); a failure
 * prints the seed and the shrunk sequence.
 */
import fc from "fast-check"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import * as Refusal from "../../src/domain/Refusal.js"
import { connect, type RunningServer, startServer, upload } from "../support/server.js"

const fuzzSeed = Number(process.env["FUZZ_SEED"] ?? 0xf022)
const fuzzRuns = Number(process.env["FUZZ_RUNS"] ?? 200)

const REPLY_TYPES = new Set(["meta_received", "chunk_received", "file_received", "error", "upload_cancelled"])
/** Closes a fuzzed frame may legitimately cause: invalid UTF-8 (1007), a frame over the limit (1009). */
const ALLOWED_CLOSES = new Set([1007, 1009])

type Frame = { readonly text: string } | { readonly binary: Uint8Array }

const HOSTILE_NAMES = [
  "../../etc/passwd", "/etc/passwd", "../../../../../../tmp/escape.txt", "..\\..\\windows\\system32\\x.txt", "C:\\x.txt",
  "\\\\server\\share\\x.txt", "a/../../../b.txt", "....//....//x.txt", "%2e%2e%2fetc%2fpasswd.txt", "~/.ssh/authorized_keys.txt",
  "\u202egnp.txt", "photo\u202etxt.png", "a\u0000.txt", "a.txt\u0000.png", "nul\u0000", ".", "..", "...", "", " ", "x.txt/",
  "con.txt", "ｆｉｌｅ．ｔｘｔ", "e\u0301.txt", "🙂.txt", "\ud800.txt", `${"a".repeat(300)}.txt`, `${"é".repeat(5000)}.pdf`,
  "__proto__.txt", "constructor", "a.TXT", "fuzz.txt"
]

const RAW_NUMBERS = [
  "1e309", "-1e309", "-0", "0", "1", "5", "64", "1.5", "-1", "9007199254740993", "1e21", "2e-400", "0x10", "NaN", "Infinity",
  "\"12\"", "null", "true", "[]", "{}", "\"\"", "1E3", "00", "+1", "20971521", "4294967296"
]

const json = (value: unknown) => JSON.stringify(value)

/** Keys that String(), template literals and JSON.stringify look up on an object, and keys that name its prototype. */
const HOSTILE_KEYS = ["toString", "valueOf", "toJSON", "__proto__", "constructor"]

/**
 * Raw JSON text of an object with its own HOSTILE_KEYS (`{"toString":null}`),
 * their values plain, or arrays or hostile objects in turn (nested).
 */
const hostileObject: fc.Arbitrary<string> = fc.letrec<{ object: string; value: string }>((tie) => ({
  object: fc.uniqueArray(fc.tuple(fc.constantFrom(...HOSTILE_KEYS, "type"), tie("value")), {
    minLength: 1,
    maxLength: 3,
    selector: ([key]) => key
  }).map((entries) => `{${entries.map(([key, value]) => `${json(key)}:${value}`).join(",")}}`),
  value: fc.oneof(
    { depthSize: "small" },
    fc.constantFrom("null", "1", "\"file_meta\"", "\"\"", "[]", "{}", "true"),
    tie("object"),
    fc.array(tie("value"), { maxLength: 2 }).map((items) => `[${items.join(",")}]`)
  )
})).object

const rawString = fc.oneof(
  fc.constantFrom(...HOSTILE_NAMES).map(json),
  fc.string().map(json),
  fc.string({ unit: "binary", maxLength: 64 }).map(json),
  fc.constantFrom(...RAW_NUMBERS),
  hostileObject
)
const rawNumber = fc.oneof(fc.constantFrom(...RAW_NUMBERS), fc.integer().map(String), fc.double().map(String), rawString)
const rawChunk = fc.oneof(
  fc.uint8Array({ maxLength: 512 }).map((bytes) => json(Buffer.from(bytes).toString("base64"))),
  fc.constantFrom("\"YQ=A\"", "\"====\"", "\"YW Jj\"", "\"\"", "null", "123", "[\"YQ==\"]", "{\"$binary\":\"YQ==\"}"),
  rawString
)
const pollution = fc.constantFrom(
  "\"__proto__\":{\"polluted\":\"yes\"}",
  "\"constructor\":{\"prototype\":{\"polluted\":\"yes\"}}",
  "\"prototype\":{\"polluted\":\"yes\"}",
  "\"__proto__\":null",
  "\"type\":\"file_chunk\""
)
const messageType = fc.oneof(
  { arbitrary: fc.constantFrom("file_meta", "file_chunk", "cancel").map(json), weight: 6 },
  { arbitrary: fc.constantFrom("__proto__", "constructor", "prototype", "toString", "FILE_META", "file_meta ", "").map(json), weight: 1 },
  { arbitrary: rawString, weight: 1 },
  { arbitrary: hostileObject, weight: 1 }
)
const field = (name: string, value: fc.Arbitrary<string>) => fc.option(value.map((v) => `${json(name)}:${v}`), { nil: undefined })

/** A JSON-ish object shaped like a protocol message, with hostile values and keys (raw text, so 1e309 and -0 survive). */
const messageFrame: fc.Arbitrary<Frame> = fc.tuple(
  messageType,
  field("file_name", rawString),
  field("file_size", rawNumber),
  field("chunk", rawChunk),
  field("offset", rawNumber),
  field("upload_id", rawString),
  field("sha256", rawString),
  fc.option(pollution, { nil: undefined })
).map(([type, ...rest]) => ({ text: `{${[`"type":${type}`, ...rest.filter((part) => part !== undefined)].join(",")}}` }))

const nested = fc.tuple(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom(["[", "]"], ["{\"a\":", "}"])).map(
  ([depth, [open, close]]): Frame => ({ text: `${open!.repeat(depth)}1${close!.repeat(depth)}` })
)

const validMeta = fc.tuple(fc.constantFrom("fuzz.txt", "fuzz.pdf", "fuzz.png"), fc.nat(600)).map(
  ([name, size]): Frame => ({ text: json({ type: "file_meta", file_name: name, file_size: size }) })
)

const frame: fc.Arbitrary<Frame> = fc.oneof(
  { arbitrary: messageFrame, weight: 8 },
  { arbitrary: validMeta, weight: 3 },
  { arbitrary: fc.uint8Array({ maxLength: 700 }).map((binary): Frame => ({ binary })), weight: 3 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 200 }).map((text): Frame => ({ text })), weight: 2 },
  { arbitrary: fc.jsonValue({ maxDepth: 6 }).map((value): Frame => ({ text: json(value) ?? "null" })), weight: 2 },
  { arbitrary: nested, weight: 1 },
  { arbitrary: fc.constantFrom("", " ", "null", "[]", "{}", "\"file_meta\"", "{\"type\":", "}{", "\u0000").map((text): Frame => ({ text })), weight: 1 }
)

/** Sends `frames` and then a sentinel; resolves with every reply up to the sentinel's, or the close code. */
const exchange = (url: string, frames: ReadonlyArray<Frame>, sentinel: string) =>
  new Promise<{ readonly replies: ReadonlyArray<string>; readonly closeCode: number | undefined }>((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false })
    const replies: Array<string> = []
    const timer = setTimeout(() => reject(new Error(`no answer to the sentinel within 10 s; replies so far: ${replies.length}`)), 10_000)
    const finish = (closeCode: number | undefined) => {
      clearTimeout(timer)
      socket.removeAllListeners()
      socket.on("error", () => undefined)
      socket.terminate()
      resolve({ replies, closeCode })
    }
    socket.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.on("message", (data, isBinary) => {
      const text = isBinary ? `<binary reply>` : data.toString()
      if (text.includes(sentinel)) return finish(undefined)
      replies.push(text)
    })
    socket.on("close", (code) => finish(code))
    socket.on("open", () => {
      for (const frame of frames) {
        if ("text" in frame) socket.send(frame.text)
        else socket.send(frame.binary, { binary: true })
      }
      socket.send(json({ type: sentinel }))
    })
  })

/** Why `text` is not a well-formed reply, if it is not. */
const malformed = (text: string): string | undefined => {
  let reply: unknown
  try {
    reply = JSON.parse(text)
  } catch {
    return `not JSON: ${text.slice(0, 200)}`
  }
  if (typeof reply !== "object" || reply === null || Array.isArray(reply)) return `not an object: ${text.slice(0, 200)}`
  const { code, message, type } = reply as { readonly type?: unknown; readonly message?: unknown; readonly code?: unknown }
  if (typeof type !== "string" || !REPLY_TYPES.has(type)) return `unknown type: ${text.slice(0, 200)}`
  if (typeof message !== "string" || message === "") return `no message: ${text.slice(0, 200)}`
  // Every error carries one of the documented codes, which clients decide on.
  if (type === "error" && !(Refusal.CODES as ReadonlyArray<unknown>).includes(code)) return `error without a known code: ${text.slice(0, 200)}`
  return undefined
}

/** Every regular file under `root`. */
const filesUnder = async (root: string): Promise<ReadonlyArray<string>> => {
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true })
  return entries.filter((entry) => !entry.isDirectory()).map((entry) => path.join(entry.parentPath, entry.name))
}

describe("wire fuzzer", () => {
  let root: string
  let saveDirectory: string
  let server: RunningServer
  beforeAll(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), "fr-fuzz-"))
    saveDirectory = path.join(root, "a", "b", "uploads")
    // The fuzzer abandons hundreds of uploads, each held for a resume: the per-client quota on
    // unfinished uploads (tested in test/e2e/security.test.ts) would refuse the final check's upload.
    server = await startServer({ FILE_SAVE_DIRECTORY: saveDirectory, RATE_LIMIT_PER_PERIOD: "1000000000", MAX_UPLOADS_PER_IP: "0" })
  })
  afterAll(async () => {
    await server.stop()
    await fs.rm(root, { recursive: true, force: true })
  })

  it(`answers ${fuzzRuns} random frame sequences with well-formed replies only, and survives them`, async () => {
    let sequence = 0
    let frames = 0
    const seen = new Map<string, number>()
    await fc.assert(
      fc.asyncProperty(fc.array(frame, { minLength: 5, maxLength: 40, size: "max" }), async (sent) => {
        const sentinel = `sentinel-${sequence++}-${Math.random().toString(36).slice(2)}`
        frames += sent.length
        const { closeCode, replies } = await exchange(server.url, sent, sentinel)
        for (const reply of replies) {
          const problem = malformed(reply)
          if (problem !== undefined) throw new Error(problem)
          const { type } = JSON.parse(reply) as { readonly type: string }
          seen.set(type, (seen.get(type) ?? 0) + 1)
        }
        if (closeCode !== undefined && !ALLOWED_CLOSES.has(closeCode)) throw new Error(`closed with ${closeCode}`)
      }),
      { seed: fuzzSeed, numRuns: fuzzRuns, endOnFailure: true }
    )
    expect(frames).toBeGreaterThan(2000)
    // The frames reached every part of the protocol, not only the JSON parser.
    for (const type of ["meta_received", "chunk_received", "file_received", "error", "upload_cancelled"]) {
      expect(seen.get(type) ?? 0, type).toBeGreaterThan(0)
    }

    expect((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status).toBe(200)
    const client = await connect(server.url)
    expect(await upload(client, "after-fuzz.txt", Buffer.from("still standing"))).toMatchObject({ type: "file_received" })
    client.close()

    const outside = (await filesUnder(root)).filter((file) => path.dirname(file) !== saveDirectory)
    expect(outside).toEqual([])
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined()
    expect(Object.prototype).not.toHaveProperty("polluted")
  }, 120_000)

  it("answers a type that is an object with its own toString with an error, and the connection goes on", async () => {
    const client = await connect(server.url)
    for (const type of [`{"toString":"file_meta"}`, `{"toString":null}`]) {
      client.sendRaw(`{"type":${type}}`)
      expect(await client.next()).toEqual({
        type: "error",
        message: `Unknown message type: ${type} (expected file_meta, file_chunk or cancel)`,
        code: "unknown_type"
      })
    }
    expect(await upload(client, "after-hostile.txt", Buffer.from("still open"))).toMatchObject({ type: "file_received" })
    client.close()
  })
})
