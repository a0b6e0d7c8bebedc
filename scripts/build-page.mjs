// Bundles the upload page's script (src/client/page/main.ts and the client
// library) into public/app.js: one small ES module for browsers, no Node APIs.
// The built file is committed, so `npm start` needs no build step;
// test/client/pageBundle.test.ts fails when it is older than its sources.
import { build } from "esbuild"

export const PAGE_ENTRY = "src/client/page/main.ts"
export const PAGE_BUNDLE = "public/app.js"

/** Builds the page script; with `write: false` returns the text instead of writing it. */
export const buildPage = async ({ write }) => {
  const result = await build({
    entryPoints: [PAGE_ENTRY],
    outfile: PAGE_BUNDLE,
    bundle: true,
    platform: "browser",
    format: "esm",
    target: ["es2022", "chrome100", "firefox100", "safari15"],
    minify: true,
    legalComments: "none",
    banner: { js: "// Built from src/client/ by `npm run build:page`; do not edit." },
    write,
    logLevel: "warning"
  })
  return write ? undefined : result.outputFiles[0].text
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildPage({ write: true })
  console.log(`built ${PAGE_BUNDLE}`)
}
