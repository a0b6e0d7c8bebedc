import { createHash, randomBytes } from "node:crypto"
import { describe, expect, it } from "vitest"
import { createSha256 } from "../../src/client/Sha256.js"

const reference = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

describe("Sha256 (portable, incremental)", () => {
  it("matches the FIPS 180-4 test vectors", () => {
    const digest = (text: string) => {
      const hasher = createSha256()
      hasher.update(new TextEncoder().encode(text))
      return hasher.digestHex()
    }
    expect(digest("")).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    expect(digest("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    expect(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))
      .toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
  })

  it("gives node:crypto's digest for every length around the block boundaries, fed in uneven pieces", () => {
    for (const length of [1, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000, 65_537]) {
      const bytes = randomBytes(length)
      const hasher = createSha256()
      for (let at = 0, step = 1; at < length; at += step, step = (step * 7) % 97 + 1) {
        hasher.update(bytes.subarray(at, at + step))
      }
      expect(hasher.digestHex(), `length ${length}`).toBe(reference(bytes))
    }
  })
})
