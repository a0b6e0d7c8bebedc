/**
 * public/app.js is built from src/client/ and committed, so that `npm start`
 * serves a working page without a build step. This fails when the committed
 * bundle is not what the sources build to (run `npm run build:page`).
 */
import * as fs from "node:fs/promises"
import { describe, expect, it } from "vitest"
// @ts-expect-error -- a plain .mjs build script without type declarations
import { buildPage, PAGE_BUNDLE } from "../../scripts/build-page.mjs"

describe("the page bundle", () => {
  it("public/app.js is up to date with src/client (npm run build:page)", async () => {
    const built = (await buildPage({ write: false })) as string
    const committed = await fs.readFile(PAGE_BUNDLE as string, "utf8")
    expect(committed === built, "public/app.js is stale: run npm run build:page and commit it").toBe(true)
  })

  it("uses no Node-only API, so browsers can run it", async () => {
    const committed = await fs.readFile(PAGE_BUNDLE as string, "utf8")
    expect(committed).not.toMatch(/\brequire\(|from\s*"node:|Buffer\.|process\./)
  })
})
