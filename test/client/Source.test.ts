import { Readable } from "node:stream"
import { describe, expect, it } from "vitest"
import { InvalidSourceError } from "../../src/client/Errors.js"
import { fromBlob, fromStream } from "../../src/client/Source.js"

const bytes = Uint8Array.from({ length: 100 }, (_, i) => i)
const pieces = () => Readable.from([bytes.subarray(0, 30), bytes.subarray(30, 70), bytes.subarray(70)])

describe("upload sources", () => {
  it("a Blob reads any range and is random access", async () => {
    const source = fromBlob(new Blob([bytes]), "b.bin")
    expect(source).toMatchObject({ name: "b.bin", size: 100, randomAccess: true })
    expect(Array.from(await source.read(95, 100))).toEqual([95, 96, 97, 98, 99])
    expect(Array.from(await source.read(0, 2))).toEqual([0, 1])
  })

  it("a stream re-reads bytes not yet released (for a resume), across its own chunk boundaries", async () => {
    const source = fromStream(pieces(), "s.bin", 100)
    expect(source.randomAccess).toBe(false)
    expect(Array.from(await source.read(0, 50))).toEqual(Array.from(bytes.subarray(0, 50)))
    expect(Array.from(await source.read(25, 80))).toEqual(Array.from(bytes.subarray(25, 80)))
    source.release?.(30)
    expect(Array.from(await source.read(30, 100))).toEqual(Array.from(bytes.subarray(30, 100)))
  })

  it("a stream refuses to rewind past released bytes, and says when it ends before its declared size", async () => {
    const source = fromStream(pieces(), "s.bin", 100)
    await source.read(0, 80)
    source.release?.(75)
    await expect(source.read(10, 20)).rejects.toBeInstanceOf(InvalidSourceError)
    const short = fromStream(pieces(), "short.bin", 120)
    await expect(short.read(0, 120)).rejects.toThrow("The stream ended after 100 bytes, before the declared 120")
  })
})
