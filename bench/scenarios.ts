/**
 * The benchmark's scenarios (issue 10, "Benchmark"): what each one uploads,
 * to which servers, and how every stored file is checked afterwards (sha256
 * against the generator, then deleted so the disk does not fill up).
 * Sizes scale with BENCH_SIZE_MIB (128 by default).
 */
import { readdir, rm } from "node:fs/promises"
import * as path from "node:path"
import { MiB, materialize, type Payload, sha256File, sha256Of } from "./content.js"
import { isProject, type RunningServer, type ServerKind } from "./servers.js"
import { uploadOverTus } from "./tus-client.js"
import { uploadOverWs, type WsUpload } from "./ws-client.js"

export const CHUNK_BYTES = 256 * 1024

/** One stored file and the payload it must equal. */
interface Stored {
  readonly path: string
  readonly payload: Payload
}

/** One timed run's work against one server. */
export interface Workload {
  readonly bytes: number
  /** Computes expected hashes and buffers, outside any timing. */
  readonly prepare: () => void
  readonly upload: (server: RunningServer) => Promise<ReadonlyArray<Stored>>
}

export interface ThroughputScenario {
  readonly _tag: "Throughput"
  readonly id: string
  readonly title: string
  readonly kinds: ReadonlyArray<ServerKind>
  readonly workload: Workload
}

export interface MemoryCase {
  readonly _tag: "Memory"
  readonly id: string
  readonly title: string
  /** The first kind is the one the target applies to; the others are for context. */
  readonly kinds: ReadonlyArray<ServerKind>
  readonly targetBytes: number
  readonly workload: Workload
  readonly note: string
}

/**
 * A long upload against a short one, each the first upload of a server started for it (so neither has
 * a warm JIT, a grown heap or a started digest thread over the other), in rounds: whether a long upload
 * keeps the short one's speed.
 */
export interface LongUploadCase {
  readonly _tag: "LongUpload"
  readonly id: string
  readonly title: string
  readonly short: Workload
  readonly long: Workload
  /** The least long / short throughput ratio the project should reach. */
  readonly target: number
}

interface WsWorkloadSpec {
  readonly connections: number
  readonly bytesEach: number
  readonly binary: boolean
  readonly window: number
  /** At most this many connections open at once (default: all). */
  readonly concurrency?: number
}

/** Runs `task` over `items` with at most `limit` at a time, keeping the order of results. */
const mapLimited = async <A, B>(items: ReadonlyArray<A>, limit: number, task: (item: A) => Promise<B>) => {
  const results: Array<B> = new Array<B>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await task(items[index] as A)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

const wsUploads = (spec: WsWorkloadSpec): ReadonlyArray<WsUpload> =>
  Array.from({ length: spec.connections }, (_, index) => ({
    fileName: `bench-${index + 1}.pdf`,
    payload: { seed: index + 1, size: spec.bytesEach },
    chunkBytes: CHUNK_BYTES,
    binary: spec.binary,
    window: spec.window
  }))

const wsWorkload = (spec: WsWorkloadSpec): Workload => {
  const uploads = wsUploads(spec)
  return {
    bytes: spec.connections * spec.bytesEach,
    prepare: () => uploads.forEach((upload) => sha256Of(upload.payload)),
    upload: async (server) => {
      const names = await mapLimited(uploads, spec.concurrency ?? uploads.length, (upload) =>
        uploadOverWs(server.url, upload))
      return names.map((name, index) => ({
        path: path.join(server.directory, name),
        payload: (uploads[index] as WsUpload).payload
      }))
    }
  }
}

/** Scenario 4: binary 8 in flight over ws; tus-js-client's one streaming PATCH to tus. */
const windowedOrTus = (bytes: number): Workload => {
  const ws = wsWorkload({ connections: 1, bytesEach: bytes, binary: true, window: 8 })
  const payload: Payload = { seed: 1, size: bytes }
  let body: Buffer | undefined
  return {
    bytes,
    prepare: () => {
      ws.prepare()
      body ??= materialize(payload)
    },
    upload: async (server) => {
      if (server.kind !== "tus") return ws.upload(server)
      if (body === undefined) throw new Error("prepare() was not called")
      const { id } = await uploadOverTus(server.url, body, "bench-1.pdf")
      return [{ path: path.join(server.directory, id), payload }]
    }
  }
}

/**
 * Scenario 7: tus-js-client uploading the same Buffer to the project's tus
 * endpoint (`/files/`) and to tus-node-server, `chunkSize` bytes per PATCH.
 * The project names the stored file in `File-Receiver-Stored-Name`; tus
 * stores it under the upload id.
 */
const overTus = (bytes: number, chunkSize: number): Workload => {
  const payload: Payload = { seed: 1, size: bytes }
  let body: Buffer | undefined
  return {
    bytes,
    prepare: () => {
      sha256Of(payload)
      body ??= materialize(payload)
    },
    upload: async (server) => {
      if (body === undefined) throw new Error("prepare() was not called")
      if (server.kind === "tus") {
        const { id } = await uploadOverTus(server.url, body, "bench-1.pdf", chunkSize)
        return [{ path: path.join(server.directory, id), payload }]
      }
      const uploaded = await uploadOverTus(`http://127.0.0.1:${server.port}/files/`, body, "bench-1.pdf", chunkSize)
      const storedName = uploaded.lastHeader("File-Receiver-Stored-Name")
      if (storedName === undefined) throw new Error(`${server.kind}: the completing response has no File-Receiver-Stored-Name`)
      return [{ path: path.join(server.directory, storedName), payload }]
    }
  }
}

/** Raised when a stored file differs from what was sent: the bench stops at once. */
export class IntegrityError extends Error {}

/**
 * Checks every stored file against its payload (size and sha256), then
 * empties `directory`. Returns warnings about files the server left behind.
 */
export const verifyAndClean = async (
  server: RunningServer,
  stored: ReadonlyArray<Stored>
): Promise<ReadonlyArray<string>> => {
  for (const file of stored) {
    const actual = await sha256File(file.path)
    const expected = sha256Of(file.payload)
    if (actual.size !== file.payload.size || actual.sha256 !== expected) {
      throw new IntegrityError(
        `${server.kind}: ${file.path} is ${actual.size} bytes, sha256 ${actual.sha256}; ` +
          `sent ${file.payload.size} bytes, sha256 ${expected}`
      )
    }
  }
  const entries = await readdir(server.directory)
  const expected = new Set(stored.map((file) => path.basename(file.path)))
  // tus keeps a <id>.json metadata file beside each upload; the project keeps the record of a completed upload
  // (.<upload id>.upload.json), so that a resume that lost its file_received is answered again.
  const kept = (name: string) =>
    (server.kind === "tus" && name.endsWith(".json")) || (isProject(server.kind) && name.startsWith(".") && name.endsWith(".upload.json"))
  const leftovers = entries.filter((name) => !expected.has(name) && !kept(name))
  await Promise.all(entries.map((name) => rm(path.join(server.directory, name), { recursive: true, force: true })))
  return leftovers.length === 0 ? [] : [`${server.kind} left ${leftovers.length} unexpected file(s): ${leftovers.slice(0, 5).join(", ")}`]
}

/** All scenarios, for a base size of `sizeMiB` MiB. */
export const scenarios = (sizeMiB: number): ReadonlyArray<ThroughputScenario | MemoryCase | LongUploadCase> => {
  const size = sizeMiB * MiB
  const scale = sizeMiB / 128
  const smallFiles = Math.max(64, Math.round(2000 * scale))
  return [
    {
      _tag: "Throughput",
      id: "1",
      title: `seed: base64 text, 256 KiB, stop-and-wait, 1 conn, ${sizeMiB} MiB`,
      kinds: ["project", "reference"],
      workload: wsWorkload({ connections: 1, bytesEach: size, binary: false, window: 1 })
    },
    {
      _tag: "Throughput",
      id: "2",
      title: `seed: base64 text, 256 KiB, stop-and-wait, 64 conns x ${sizeMiB / 64} MiB`,
      kinds: ["project", "reference"],
      workload: wsWorkload({ connections: 64, bytesEach: size / 64, binary: false, window: 1 })
    },
    {
      _tag: "Throughput",
      id: "3",
      title: `binary, 256 KiB, stop-and-wait, 1 conn, ${sizeMiB} MiB`,
      kinds: ["project", "project-inline", "project-unhashed", "reference"],
      workload: wsWorkload({ connections: 1, bytesEach: size, binary: true, window: 1 })
    },
    {
      _tag: "Throughput",
      id: "4",
      title: `binary, 256 KiB, 8 in flight, 1 conn, ${sizeMiB} MiB (tus: one streaming PATCH)`,
      kinds: ["project", "project-inline", "project-unhashed", "reference", "tus"],
      workload: windowedOrTus(size)
    },
    // The project hashes what it stores (sha256) by default, on worker threads ("project-inline": on the event loop's
    // thread, DIGEST_THREADS=0); "project-unhashed" is INTEGRITY=requested, which hashes nothing here (the clients
    // declare no digest), like tus-node-server.
    {
      _tag: "Throughput",
      id: "7a",
      title: `tus-js-client, one streaming PATCH, ${sizeMiB} MiB (project: /files/)`,
      kinds: ["project", "project-inline", "project-unhashed", "tus"],
      workload: overTus(size, Infinity)
    },
    {
      _tag: "Throughput",
      id: "7b",
      title: `tus-js-client, 8 MiB PATCHes, ${sizeMiB} MiB (project: /files/)`,
      kinds: ["project", "project-inline", "project-unhashed", "tus"],
      workload: overTus(size, 8 * MiB)
    },
    {
      // Not one of issue 10's targets: the cost of an upload's life (connection, file_meta, publish), which
      // the scenarios above spread over hundreds of chunks.
      _tag: "Throughput",
      id: "6",
      title: `small files: ${smallFiles} x 16 KiB, base64, a connection each, 64 at a time`,
      kinds: ["project", "reference"],
      workload: wsWorkload({ connections: smallFiles, bytesEach: 16 * 1024, binary: false, window: 1, concurrency: 64 })
    },
    {
      _tag: "Memory",
      id: "5a",
      title: `peak RSS: one ${16 * sizeMiB} MiB upload, binary, 8 in flight`,
      kinds: ["project", "reference"],
      targetBytes: 120e6,
      note: "reference measured for context",
      workload: wsWorkload({ connections: 1, bytesEach: 16 * size, binary: true, window: 8 })
    },
    {
      _tag: "LongUpload",
      id: "5d",
      title: `one ${16 * sizeMiB} MiB upload against one ${sizeMiB} MiB, binary, 8 in flight, each on a fresh server`,
      short: wsWorkload({ connections: 1, bytesEach: size, binary: true, window: 8 }),
      long: wsWorkload({ connections: 1, bytesEach: 16 * size, binary: true, window: 8 }),
      target: 0.9
    },
    {
      _tag: "Memory",
      id: "5b",
      title: `peak RSS: 1000 conns x ${1024 * scale} KiB, binary, stop-and-wait`,
      kinds: ["project"],
      targetBytes: 300e6,
      note: "all 1000 connections opened at once (no batching)",
      workload: wsWorkload({ connections: 1000, bytesEach: Math.round(MiB * scale), binary: true, window: 1 })
    },
    {
      _tag: "Memory",
      id: "5c",
      title: `peak RSS: one ${8 * sizeMiB} MiB upload, binary, never waiting for replies`,
      kinds: ["project"],
      targetBytes: 200e6,
      note: "client honours its socket's bufferedAmount (<= 4 MiB queued), reads replies at the end",
      workload: wsWorkload({ connections: 1, bytesEach: 8 * size, binary: true, window: Infinity })
    }
  ]
}
