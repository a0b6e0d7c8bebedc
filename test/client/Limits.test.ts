/**
 * The page's checks before sending (src/client/page/Limits.ts) against the
 * server's own name policy (src/domain/FileName.ts): for every name the page
 * refuses up front, the server would refuse it with the same words, and the
 * page lets through every name the server accepts.
 */
import { Either } from "effect"
import { describe, expect, it } from "vitest"
import { refusal } from "../../src/client/page/Limits.js"
import * as FileName from "../../src/domain/FileName.js"

const allowed = ["txt", "pdf", "png", "jpg", "jpeg", "gif"]
const limits = { maxFileBytes: 1024, allowedExtensions: allowed, uploadPath: "/ws/file-transfer/" }

const names = [
  "report.pdf", "Photo.JPG", "archive.tar.gz", "tool.exe", "noextension", ".txt", "..", "a.", "a.b.",
  "notes.txt ", "x.p df", "my report (1).pdf", "../../etc/passwd.txt", "C:\\\\dir\\\\x.png", "résumé.PDF",
  "e\u0301t\u00e9.txt", "name.tx\u200bt", "名前.png", "a..pdf", "emoji😀.gif", "...", "a .txt"
]

describe("the page's up-front refusal agrees with the server's name policy", () => {
  for (const name of names) {
    it(`${JSON.stringify(name)}`, () => {
      const server = FileName.validate(name, allowed)
      const page = refusal({ name, size: 1 }, limits)
      expect(page).toBe(Either.isLeft(server) ? server.left.message : undefined)
    })
  }
})
