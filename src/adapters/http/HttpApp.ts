/**
 * The plain-HTTP side of the server: the upload page at `/` (with its script
 * `/app.js` and the limits it shows, `/config.json`), liveness (`/healthz`)
 * and readiness (`/readyz`: 503 naming the failing dependency). Everything
 * else is a 404 (WebSocket upgrades are handled by the transport before they
 * reach this app).
 */
import { HttpRouter, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import * as fs from "node:fs/promises"
import * as Readiness from "../../application/ports/Readiness.js"
import * as Prometheus from "./Prometheus.js"
import * as PublicConfig from "./PublicConfig.js"

/** Where the page's files can be: next to src/ when run from source, next to dist/ when bundled. */
const publicFile = (name: string) => {
  const candidates = [new URL(`../../../public/${name}`, import.meta.url), new URL(`../public/${name}`, import.meta.url)]
  return Effect.tryPromise({
    try: () => Promise.any(candidates.map((candidate) => fs.readFile(candidate, "utf8"))),
    catch: () => new Error(`cannot read the upload page's public/${name} (looked in ${candidates.map((c) => c.pathname).join(", ")})`)
  })
}

const pageHeaders = {
  "cache-control": "no-cache",
  // The page: its own script (/app.js), inline style, a data: icon, /config.json and its own WebSocket.
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer"
}

/** The router; reads the page once, when built. */
export const make = Effect.gen(function*() {
  const probes = yield* Readiness.Readiness
  const limits = yield* PublicConfig.PublicConfig
  const indexHtml = yield* publicFile("index.html")
  const appJs = yield* publicFile("app.js")
  return HttpRouter.empty.pipe(
    HttpRouter.get(
      "/",
      Effect.succeed(HttpServerResponse.text(indexHtml, { contentType: "text/html; charset=utf-8", headers: pageHeaders }))
    ),
    HttpRouter.get(
      "/app.js",
      Effect.succeed(HttpServerResponse.text(appJs, {
        contentType: "text/javascript; charset=utf-8",
        headers: { "cache-control": "no-cache", "x-content-type-options": "nosniff" }
      }))
    ),
    HttpRouter.get(
      "/config.json",
      Effect.succeed(HttpServerResponse.unsafeJson(PublicConfig.toJson(limits), { headers: { "cache-control": "no-cache" } }))
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
