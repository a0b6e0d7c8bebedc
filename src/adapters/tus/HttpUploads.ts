/**
 * What the HTTP transport does with an upload, over Channels: create it,
 * find it (the channel this process has open for it, else a new one that
 * resumes it, so an upload started on another instance, before a restart, or
 * over WebSocket goes on here), append a request's body to it, and cancel it.
 * Each is a series of protocol frames on the upload's channel; the session
 * behind it does the checks, the storing, the limits and the events, exactly
 * as for a WebSocket. Requests for one upload take turns on its channel.
 */
import { Clock, Deferred, Effect, Either, Exit, Option } from "effect"
import { binaryFrame, continuation, textFrame } from "../../application/session/Connection.js"
import type { Connections } from "../../application/session/Connections.js"
import type { UploadRegistry } from "../../application/ports/UploadRegistry.js"
import type * as Refusal from "../../domain/Refusal.js"
import * as Refusals from "../../domain/Refusals.js"
import type { Body } from "./Body.js"
import * as Channels from "./Channels.js"
import type { Run } from "./Channels.js"

/** What a completed upload was stored as (HTTP carries it in headers). */
export interface Stored {
  readonly storedName: string
  readonly extension: string
  /** Absent when the file was not hashed (INTEGRITY=requested). */
  readonly sha256: string | undefined
}

/** An upload as this process knows it: open on a channel, or completed. */
export interface Tracked {
  readonly uploadId: string
  readonly fileName: string
  readonly size: number
  /** Bytes the store holds (acknowledged by the session). */
  offset: number
  /** When the last bytes came (epoch ms): the upload expires UPLOAD_EXPIRY after. */
  lastActivity: number
  completed: Stored | undefined
  readonly channel: Channels.Channel | undefined
}

/** How an operation went: the upload as it is now, or the refusal to answer with. */
export type Outcome =
  /** `opened`: this request opened the upload's channel, with a file_meta the session counted as its message. */
  | { readonly _tag: "Done"; readonly upload: Tracked; readonly opened?: boolean }
  | { readonly _tag: "Refused"; readonly refusal: Refusal.Refusal }

const refused = (refusal: Refusal.Refusal): Outcome => ({ _tag: "Refused", refusal })
const done = (upload: Tracked): Outcome => ({ _tag: "Done", upload })

/** How a request's body went into the upload. */
export type Appended = Outcome & { readonly bodyEnded?: "Complete" | "Stalled" | "Aborted" }

export interface HttpUploadsSettings {
  /** How long a channel outlives its request, for the next one (see Channels). */
  readonly lingerMillis: number
  /** How long a request waits for the request before it on the same upload to finish. */
  readonly turnMillis: number
}

export const make = (
  connections: Connections["Type"],
  registry: UploadRegistry["Type"],
  run: Run,
  settings: HttpUploadsSettings
) => {
  const open = new Map<string, Tracked>()
  const finding = new Map<string, Deferred.Deferred<Outcome>>()

  const openChannel = (peer: Channels.Peer, onEnd: () => void) => Channels.open(connections, run, peer, settings.lingerMillis, onEnd)

  /** The last answer of an exchange that means something to the request (a channel that ended without one is busy elsewhere or gone). */
  const lastAnswer = (exchanged: Channels.Exchanged): Channels.Answer =>
    exchanged.answers.at(-1) ?? { _tag: "Refused", refusal: exchanged.ended ? Refusals.storageUnavailable() : Refusals.internalError() }

  /** Tracks `uploadId` as open on `channel` (until the channel ends). */
  const track = (channel: Channels.Channel, uploadId: string, fileName: string, size: number, offset: number) =>
    Effect.map(Clock.currentTimeMillis, (now) => {
      const tracked: Tracked = { uploadId, fileName, size, offset, lastActivity: now, completed: undefined, channel }
      open.set(uploadId, tracked)
      return tracked
    })

  const untrack = (uploadId: string, channel: Channels.Channel | undefined) => () => {
    if (open.get(uploadId)?.channel === channel) open.delete(uploadId)
  }

  /**
   * Applies what a file_meta got: meta_received (open, at its offset), then
   * perhaps file_received (a 0-byte file, or a resume of a completed upload,
   * which gets file_received alone), or an error.
   */
  const opened = (channel: Channels.Channel, exchanged: Channels.Exchanged, fileName: string, size: number, resumed?: string) =>
    Effect.gen(function*() {
      const meta = exchanged.answers.find((answer) => answer._tag === "MetaReceived")
      const last = lastAnswer(exchanged)
      const uploadId = meta?._tag === "MetaReceived" ? meta.uploadId : resumed
      if (last._tag === "Refused" || uploadId === undefined) {
        yield* channel.end
        return refused(last._tag === "Refused" ? last.refusal : Refusals.internalError())
      }
      const tracked = yield* track(channel, uploadId, fileName, size, meta?._tag === "MetaReceived" ? meta.offset : size)
      return last._tag === "FileReceived" ? yield* completed(tracked, last) : { ...done(tracked), opened: true }
    })

  /** Marks `tracked` completed; its channel is done with. */
  const completed = (tracked: Tracked, stored: Stored) =>
    Effect.gen(function*() {
      tracked.offset = tracked.size
      tracked.completed = { storedName: stored.storedName, extension: stored.extension, sha256: stored.sha256 }
      open.delete(tracked.uploadId)
      if (tracked.channel !== undefined) yield* tracked.channel.end
      return done(tracked)
    })

  /** Creates an upload of `size` bytes named `fileName` (whose whole file must hash to `sha256`, if given). */
  const create = (peer: Channels.Peer, fileName: string, size: number, sha256: string | undefined, fileType: string | undefined) =>
    Effect.gen(function*() {
      let uploadId = ""
      const channel = yield* openChannel(peer, () => untrack(uploadId, channel)())
      const meta = {
        type: "file_meta",
        file_name: fileName,
        file_size: size,
        ...(sha256 === undefined ? {} : { sha256 }),
        ...(fileType === undefined ? {} : { file_type: fileType.slice(0, 255) })
      }
      const exchanged = yield* channel.exchange(textFrame(JSON.stringify(meta)))
      const outcome = yield* opened(channel, exchanged, fileName, size)
      if (outcome._tag === "Done") uploadId = outcome.upload.uploadId
      return outcome
    })

  /** Opens a channel that resumes `uploadId` as `peer`. */
  const resume = (uploadId: string, peer: Channels.Peer): Effect.Effect<Outcome> =>
    Effect.gen(function*() {
      const record = yield* Effect.either(registry.get(uploadId))
      if (record._tag === "Left") return refused(Refusals.storageUnavailable())
      // Someone else's upload is as unknown as one never started.
      if (Option.isNone(record.right) || record.right.value.identity !== peer.identity) return refused(Refusals.unknownUpload())
      const { fileName, size } = record.right.value
      const channel = yield* openChannel(peer, () => untrack(uploadId, channel)())
      const meta = { type: "file_meta", file_name: fileName, file_size: size, upload_id: uploadId }
      return yield* opened(channel, yield* channel.exchange(textFrame(JSON.stringify(meta))), fileName, size, uploadId)
    })

  /**
   * The upload `uploadId` as `peer` may see it: the one open here, else
   * resumed on a new channel (one at a time per id).
   */
  const find = (uploadId: string, peer: Channels.Peer): Effect.Effect<Outcome> =>
    Effect.gen(function*() {
      const known = open.get(uploadId)
      if (known !== undefined && !(yield* known.channel?.ended ?? Effect.succeed(false))) {
        return known.channel?.peer.identity === peer.identity ? done(known) : refused(Refusals.unknownUpload())
      }
      const pending = finding.get(uploadId)
      if (pending !== undefined) {
        return yield* Effect.zipRight(Deferred.await(pending), Effect.map(find(uploadId, peer), (outcome) => outcome._tag === "Done" ? done(outcome.upload) : outcome))
      }
      const deferred = yield* Deferred.make<Outcome>()
      finding.set(uploadId, deferred)
      // Whatever happens to this resume (a defect, an interruption), the requests waiting for it go on.
      return yield* resume(uploadId, peer).pipe(
        Effect.onExit((exit) =>
          Effect.zipRight(
            Effect.sync(() => finding.delete(uploadId)),
            Deferred.succeed(deferred, Exit.isSuccess(exit) ? exit.value : refused(Refusals.internalError()))
          )
        )
      )
    })

  /** Ends `tracked`'s channel after a refusal: the session may have discarded or suspended it; the next request finds out from the registry. */
  const drop = (tracked: Tracked, channel: Channels.Channel) =>
    Effect.zipRight(channel.end, Effect.sync(() => untrack(tracked.uploadId, channel)()))

  /**
   * Appends the request's body to `tracked` at `offset`, in its turn: the
   * offset is checked and the body opened (`body`: it may read and check the
   * whole of it first) once no other request holds the upload. Frames of it
   * go to the session (the first one counted as the request's message,
   * unless `counted`) until the body ends, the upload completes or the
   * session refuses.
   */
  const append = (
    tracked: Tracked,
    offset: number,
    body: Effect.Effect<Either.Either<Body, Refusal.Refusal>>,
    counted: boolean
  ): Effect.Effect<Appended> =>
    Effect.gen(function*() {
      const channel = tracked.channel
      if (channel === undefined) return refused(Refusals.uploadComplete())
      const turn = yield* channel.holding(
        Effect.gen(function*() {
          if (tracked.completed !== undefined) return refused(Refusals.uploadComplete())
          if (offset !== tracked.offset) return refused(Refusals.wrongOffset(offset, tracked.offset))
          const opened = yield* body
          if (Either.isLeft(opened)) return refused(opened.left)
          const reader = opened.right
          let first = !counted
          while (true) {
            const piece = yield* reader.next
            if (piece._tag === "End") return { ...done(tracked), bodyEnded: piece.reason } as Appended
            if (tracked.completed !== undefined) return refused(Refusals.exceedsSize(tracked.size))
            const frame = first ? binaryFrame(piece.bytes) : continuation(piece.bytes)
            first = false
            const answer = lastAnswer(yield* channel.exchange(frame))
            tracked.lastActivity = yield* Clock.currentTimeMillis
            if (answer._tag === "ChunkReceived") tracked.offset = answer.received
            else if (answer._tag === "FileReceived") yield* completed(tracked, answer)
            else if (answer._tag === "Refused") {
              yield* drop(tracked, channel)
              return refused(answer.refusal)
            }
          }
        }),
        settings.turnMillis
      )
      return Option.getOrElse(turn, () => refused(Refusals.busy()))
    })

  /** Cancels `tracked`: its partial data and record go. */
  const cancel = (tracked: Tracked): Effect.Effect<Outcome> =>
    Effect.gen(function*() {
      const channel = tracked.channel
      if (channel === undefined || tracked.completed !== undefined) return refused(Refusals.uploadComplete())
      const turn = yield* channel.holding(Effect.map(channel.exchange(textFrame(`{"type":"cancel"}`)), lastAnswer), settings.turnMillis)
      if (Option.isNone(turn)) return refused(Refusals.busy())
      if (turn.value._tag === "Refused") {
        yield* drop(tracked, channel)
        return refused(turn.value.refusal)
      }
      yield* channel.end
      open.delete(tracked.uploadId)
      return done(tracked)
    })

  return { create, find, append, cancel }
}

export type HttpUploads = ReturnType<typeof make>
