/**
 * The plain-HTTP side of the server: the upload page at `/`, liveness
 * (`/healthz`) and readiness (`/readyz`: 503 naming the failing dependency). Everything else is a 404 (WebSocket upgrades are handled by the
 * transport before they reach this app).
 */
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import * as fs from "node:fs/promises"
import * as Readiness from "../../application/Readiness.js"
import * as Prometheus from "./Prometheus.js"

/** Where the upload page can be: next to src/ when run from source, next to dist/ when bundled. */
const INDEX_HTML_CANDIDATES = [
  new URL("../../../public/index.html", import.meta.url),
  new URL("../public/index.html", import.meta.url)
]

const pageHeaders = {
  "cache-control": "no-cache",
  // The page is self-contained: inline script and style, a data: icon, and its own WebSocket.
  "content-security-policy":
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer"
}

/** The router; reads the page once, when built. */
export const make = Effect.gen(function*() {
  const probes = yield* Readiness.Readiness
  const indexHtml = yield* Effect.tryPromise({
    try: () => Promise.any(INDEX_HTML_CANDIDATES.map((candidate) => fs.readFile(candidate, "utf8"))),
    catch: () =>
      new Error(`cannot read the upload page public/index.html (looked in ${INDEX_HTML_CANDIDATES.map((c) => c.pathname).join(", ")})`)
  })
  return HttpRouter.empty.pipe(
    HttpRouter.get(
      "/",
      Effect.succeed(HttpServerResponse.text(indexHtml, { contentType: "text/html; charset=utf-8", headers: pageHeaders }))
    ),
    HttpRouter.get("/healthz", Effect.succeed(HttpServerResponse.unsafeJson({ status: "ok" }))),
    HttpRouter.get(
      "/metrics",
      Effect.map(Prometheus.render, (text) =>
        HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8" }))
    ),
    HttpRouter.get(
      "/readyz",
      Effect.map(Readiness.report(probes), ({ checks, ready }) =>
        HttpServerResponse.unsafeJson(
          ready
            ? { status: "ready", checks }
            : { status: "not ready", failing: Object.keys(checks).filter((name) => checks[name] !== "ok"), checks },
          { status: ready ? 200 : 503 }
        ))
    )
  )
})
