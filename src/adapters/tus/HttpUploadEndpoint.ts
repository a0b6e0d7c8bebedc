/**
 * The HTTP upload endpoint as a service: what the transport's HTTP server
 * hands the requests under `/files/` to (see WebSocketServer), built over the
 * Connections service, so its uploads are sessions like any WebSocket's. Its
 * requests and channels run on fibers of its own, which end with its layer.
 */
import { Context, Effect, FiberSet, Layer } from "effect"
import type * as http from "node:http"
import { UploadRegistry } from "../../application/ports/UploadRegistry.js"
import { Connections } from "../../application/session/Connections.js"
import { PublicConfig } from "../http/PublicConfig.js"
import * as HttpUploads from "./HttpUploads.js"
import { handles, make, type TusEndpointSettings } from "./TusEndpoint.js"

/** The HTTP upload endpoint the transport's server hands its requests to. */
export class HttpUploadEndpoint extends Context.Tag("file-receiver/HttpUploadEndpoint")<HttpUploadEndpoint, {
  /** Whether a request for `url` is the endpoint's. */
  readonly handles: (url: string | undefined) => boolean
  /** Answers the request (on the endpoint's own fibers, which end with its layer). */
  readonly serve: (request: http.IncomingMessage, response: http.ServerResponse) => void
}>() {}

export interface HttpUploadSettings extends Omit<TusEndpointSettings, "maxFileBytes" | "maxChunkBytes"> {}

/** The endpoint over the Connections service (the same sessions as the WebSocket transport). */
export const layer = (
  settings: HttpUploadSettings
): Layer.Layer<HttpUploadEndpoint, never, Connections | UploadRegistry | PublicConfig> =>
  Layer.scoped(
    HttpUploadEndpoint,
    Effect.gen(function*() {
      const connections = yield* Connections
      const registry = yield* UploadRegistry
      const limits = yield* PublicConfig
      const fibers = yield* FiberSet.make()
      const run = yield* FiberSet.runtime(fibers)<never>()
      const uploads = HttpUploads.make(connections, registry, (effect) => run(effect), { lingerMillis: settings.lingerMillis, turnMillis: 3_000 })
      const endpoint = make(uploads, { ...settings, maxFileBytes: limits.maxFileBytes, maxChunkBytes: limits.maxChunkBytes })
      return HttpUploadEndpoint.of({ handles, serve: (request, response) => void run(endpoint.serve(request, response)) })
    })
  )
