/**
 * The plain-HTTP side of the server: the upload page at `/` and a health
 * check. Everything else is a 404 (WebSocket upgrades are handled by the
 * transport before they reach this app).
 */
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import * as fs from "node:fs/promises"

/** Where the upload page lives, relative to the package root. */
export const INDEX_HTML = new URL("../../../public/index.html", import.meta.url)

const pageHeaders = {
  "cache-control": "no-cache",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer"
}

/** The router; reads the page once, when built. */
export const make = Effect.gen(function*() {
  const indexHtml = yield* Effect.promise(() => fs.readFile(INDEX_HTML, "utf8"))
  return HttpRouter.empty.pipe(
    HttpRouter.get(
      "/",
      Effect.succeed(HttpServerResponse.text(indexHtml, { contentType: "text/html; charset=utf-8", headers: pageHeaders }))
    ),
    HttpRouter.get("/healthz", Effect.succeed(HttpServerResponse.unsafeJson({ status: "ok" })))
  )
})
