/**
 * A request body, read in frames of at most `frameBytes`: one frame ahead
 * of the one being handled and no more, so a fast client is held back by
 * TCP (Node stops reading the socket) and memory stays within two frames,
 * however large the body. A body that sends nothing for `stallMillis`
 * ends as Stalled, one whose client went away as Aborted; the bytes read by
 * then come out first as the last frame, so nothing the client sent is lost,
 * and a stalled request is cut off only once that frame has been handled.
 */
import { Effect } from "effect"
import type * as http from "node:http"

export type Piece =
  | { readonly _tag: "Bytes"; readonly bytes: Buffer }
  | { readonly _tag: "End"; readonly reason: "Complete" | "Stalled" | "Aborted" }

export interface Body {
  /** The next frame of the body, or how it ended. */
  readonly next: Effect.Effect<Piece>
}

export const reader = (request: http.IncomingMessage, frameBytes: number, stallMillis: number): Body => {
  const iterator = request[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  let ended: Piece | undefined
  // Bytes of the last chunk Node gave that did not fit in the last frame.
  let carry: Buffer | undefined

  /** Node's next chunk, or how the body ended. */
  const pull = (): Promise<Buffer | "Complete" | "Stalled" | "Aborted"> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => resolve("Stalled"), stallMillis)
      timer.unref()
      iterator.next().then(
        (result) => {
          clearTimeout(timer)
          resolve(result.done === true ? "Complete" : result.value)
        },
        () => {
          clearTimeout(timer)
          resolve("Aborted")
        }
      )
    })

  const fill = async (): Promise<Piece> => {
    if (ended !== undefined) return ended
    const frame = Buffer.allocUnsafe(frameBytes)
    let filled = 0
    const take = (chunk: Buffer) => {
      const used = Math.min(chunk.length, frameBytes - filled)
      chunk.copy(frame, filled, 0, used)
      filled += used
      carry = used < chunk.length ? chunk.subarray(used) : undefined
    }
    if (carry !== undefined) take(carry)
    while (filled < frameBytes) {
      const chunk = await pull()
      if (typeof chunk === "string") {
        ended = { _tag: "End", reason: chunk }
        break
      }
      take(chunk)
    }
    return filled === 0 ? (ended ?? { _tag: "End", reason: "Complete" }) : { _tag: "Bytes", bytes: frame.subarray(0, filled) }
  }

  // The next frame is read while the last one is being stored: reading the socket and writing the disk
  // overlap, and memory holds at most two frames.
  let ahead: Promise<Piece> | undefined
  const next = (): Promise<Piece> => {
    const piece = ahead ?? fill()
    ahead = piece.then((got) => (got._tag === "Bytes" ? fill() : got))
    // A stalled client is cut off (one that went away is gone already) when its end is taken, which is after
    // the frames before it were handled: by the time the client sees the connection close, the bytes it
    // sent are stored, and a HEAD right after tells them.
    return piece.then((got) => {
      if (got._tag === "End" && got.reason === "Stalled") request.destroy()
      return got
    })
  }
  return { next: Effect.promise(next) }
}

/** The whole body, up to `limit` bytes: None when it is longer (or ended early). For bodies that must be checked before any byte is stored. */
export const readAll = (request: http.IncomingMessage, limit: number, stallMillis: number): Effect.Effect<Buffer | "TooLarge" | "Incomplete"> => {
  const body = reader(request, Math.max(1, limit + 1), stallMillis)
  return Effect.flatMap(body.next, (piece) => {
    if (piece._tag === "End") return Effect.succeed(piece.reason === "Complete" ? Buffer.alloc(0) : "Incomplete" as const)
    if (piece.bytes.length > limit) return Effect.succeed("TooLarge" as const)
    return Effect.map(body.next, (rest) =>
      rest._tag === "End" && rest.reason === "Complete" ? piece.bytes : rest._tag === "Bytes" ? "TooLarge" as const : "Incomplete" as const)
  })
}
