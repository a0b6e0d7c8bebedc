/**
 * The HTTP transport at `/files/` (tusd's default path): tus 1.0.0 (core,
 * creation, creation-with-upload, termination, expiration, checksum) and the
 * IETF draft "Resumable Uploads for HTTP" as tus-js-client 4 speaks it
 * (interop versions 5 and 6). It maps requests and headers (TusHeaders) onto
 * HttpUploads, which drives the same session as the WebSocket transport.
 *
 * Every request, in this order: CORS (an `Origin` that ALLOWED_ORIGINS does
 * not allow gets 403; a preflight is answered at once), the bearer token when
 * AUTH_TOKENS is set (401), the protocol (`Tus-Resumable`, else
 * `Upload-Draft-Interop-Version`; 412 when neither is one spoken here), then
 * the method: POST on the collection creates, HEAD tells the offset, PATCH
 * appends, DELETE cancels. `X-HTTP-Method-Override` is honoured on POST.
 *
 * A completed upload's stored name, extension and sha256 travel in
 * `File-Receiver-Stored-Name`, `File-Receiver-Extension`,
 * `File-Receiver-Sha256` and `Repr-Digest` (RFC 9530; absent for a file
 * stored unhashed, see INTEGRITY), on the request that completed it and on
 * every HEAD after.
 */
import { Effect, Either, Option } from "effect"
import { createHash } from "node:crypto"
import type * as http from "node:http"
import type * as Refusal from "../../domain/Refusal.js"
import * as Refusals from "../../domain/Refusals.js"
import * as Authentication from "../http/Authentication.js"
import * as ClientAddress from "../http/ClientAddress.js"
import * as OriginPolicy from "../http/OriginPolicy.js"
import * as Body from "./Body.js"
import type { Peer } from "./Channels.js"
import type * as HttpUploads from "./HttpUploads.js"
import type { Tracked } from "./HttpUploads.js"
import * as TusHeaders from "./TusHeaders.js"

/** tusd's default path. */
export const HTTP_UPLOAD_PATH = "/files/"

export interface TusEndpointSettings {
  readonly maxFileBytes: number
  readonly maxChunkBytes: number
  /** UPLOAD_EXPIRY: an unfinished upload is kept this long after its last bytes. */
  readonly expiryMillis: number
  /** How long a request body may send nothing before it is cut off (UPLOAD_STALL_TIMEOUT). */
  readonly stallMillis: number
  readonly trust: ClientAddress.Trust
  readonly allowedOrigins: OriginPolicy.OriginPolicy
  readonly tokens: ReadonlyArray<Authentication.Token> | undefined
  /** How long an upload stays open in this process after a request, for the next one (see Channels). */
  readonly lingerMillis: number
}

/** The protocol a request speaks. */
type Dialect = { readonly _tag: "Tus" } | { readonly _tag: "Ietf"; readonly interop: string }

interface Response {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body?: string
}

const header = (request: http.IncomingMessage, name: string): string | undefined => {
  const value = request.headers[name]
  return Array.isArray(value) ? value.join(",") : value
}

/** Whether `url` is the endpoint's: the collection (`/files`, `/files/`) or an upload under it. */
export const handles = (url: string | undefined): boolean => {
  const path = (url ?? "/").split("?", 1)[0] ?? "/"
  return path === "/files" || path.startsWith(HTTP_UPLOAD_PATH)
}

export const make = (uploads: HttpUploads.HttpUploads, settings: TusEndpointSettings) => {
  const protocolHeaders = (dialect: Dialect): Record<string, string> =>
    dialect._tag === "Tus" ? { "Tus-Resumable": TusHeaders.TUS_VERSION } : { "Upload-Draft-Interop-Version": dialect.interop }

  const failure = (dialect: Dialect, refusal: Refusal.Refusal, status = TusHeaders.STATUS[refusal.code]): Response => ({
    status,
    headers: {
      ...protocolHeaders(dialect),
      "Content-Type": "application/json",
      ...(refusal.retryAfter === undefined ? {} : { "Retry-After": String(refusal.retryAfter) }),
      // Held by another request, here or on another instance: free again once that one's channel ended.
      ...(status === 423 ? { "Retry-After": String(Math.ceil(settings.lingerMillis / 1000)) } : {}),
      ...(status === 412 ? { "Tus-Version": TusHeaders.TUS_VERSION } : {})
    },
    body: TusHeaders.errorBody(refusal)
  })

  const expires = (upload: Tracked) =>
    upload.completed === undefined ? { "Upload-Expires": TusHeaders.httpDate(upload.lastActivity + settings.expiryMillis) } : {}

  /** The headers that tell where an upload is: its offset, its length, and what it was stored as once complete. */
  const state = (dialect: Dialect, upload: Tracked): Record<string, string> => ({
    ...protocolHeaders(dialect),
    "Upload-Offset": String(upload.offset),
    ...(dialect._tag === "Ietf" ? TusHeaders.completenessHeader(upload.completed !== undefined) : {}),
    ...expires(upload),
    ...(upload.completed === undefined ? {} : {
      "File-Receiver-Stored-Name": upload.completed.storedName,
      "File-Receiver-Extension": upload.completed.extension,
      ...(upload.completed.sha256 === undefined ? {} : {
        "File-Receiver-Sha256": upload.completed.sha256,
        "Repr-Digest": TusHeaders.reprDigest(upload.completed.sha256)
      })
    })
  })

  const location = (request: http.IncomingMessage, uploadId: string) => {
    const forwarded = settings.trust._tag === "Hops" && settings.trust.hops === 0 ? undefined : header(request, "x-forwarded-proto")
    const scheme = forwarded?.split(",")[0]?.trim() ?? ("encrypted" in request.socket ? "https" : "http")
    const host = header(request, "host")
    return host === undefined ? `${HTTP_UPLOAD_PATH}${uploadId}` : `${scheme}://${host}${HTTP_UPLOAD_PATH}${uploadId}`
  }

  /** The checks on a body that appends bytes: its type, and a Content-Length that fits in the upload. */
  const appendable = (dialect: Dialect, request: http.IncomingMessage): Refusal.Refusal | undefined => {
    const type = header(request, "content-type")?.split(";")[0]?.trim().toLowerCase()
    if (dialect._tag === "Tus" && type !== TusHeaders.OFFSET_OCTET_STREAM) return Refusals.wrongContentType(TusHeaders.OFFSET_OCTET_STREAM)
    return undefined
  }

  /** What is wrong with a request's `Upload-Checksum`, if anything; its algorithm and digest otherwise. */
  const checksumOf = (request: http.IncomingMessage) => {
    const checksum = header(request, "upload-checksum")
    if (checksum === undefined) return Either.right(undefined)
    return Either.mapLeft(TusHeaders.parseChecksum(checksum), (wrong) =>
      wrong === "unsupported" ? Refusals.unsupportedChecksum() : Refusals.invalidHeader("Upload-Checksum", "expected an algorithm and a base64 digest"))
  }

  /** The request's body, checked against `Upload-Checksum` first when it has one (so it is read whole before any byte is stored). */
  const bodyOf = (request: http.IncomingMessage): Effect.Effect<Either.Either<Body.Body, Refusal.Refusal>> => {
    const parsed = checksumOf(request)
    if (Either.isLeft(parsed)) return Effect.succeed(Either.left(parsed.left))
    const checksum = parsed.right
    if (checksum === undefined) return Effect.succeed(Either.right(Body.reader(request, settings.maxChunkBytes, settings.stallMillis)))
    return Effect.map(Body.readAll(request, settings.maxChunkBytes, settings.stallMillis), (bytes) => {
      if (bytes === "TooLarge") return Either.left(Refusals.checksumBodyTooLarge(settings.maxChunkBytes))
      if (bytes === "Incomplete") return Either.left(Refusals.invalidHeader("Content-Length", "the body ended early"))
      const actual = createHash(checksum.algorithm).update(bytes).digest()
      if (!actual.equals(checksum.digest)) return Either.left(Refusals.requestChecksumMismatch())
      let given = false
      return Either.right({ next: Effect.sync((): Body.Piece => {
        if (given || bytes.length === 0) return { _tag: "End", reason: "Complete" }
        given = true
        return { _tag: "Bytes", bytes }
      }) })
    })
  }

  /** What is wrong with a request that appends bytes at `offset` to an upload of `size`, before anything is opened or stored. */
  const appendRefusal = (dialect: Dialect, request: http.IncomingMessage, offset: number, size: number): Response | undefined => {
    const wrongType = appendable(dialect, request)
    if (wrongType !== undefined) return failure(dialect, wrongType, 415)
    const length = TusHeaders.parseCount(header(request, "content-length"))
    if (length !== undefined && offset + length > size) return failure(dialect, Refusals.exceedsSize(size))
    const checksum = checksumOf(request)
    if (Either.isLeft(checksum)) return failure(dialect, checksum.left)
    if (checksum.right !== undefined && length !== undefined && length > settings.maxChunkBytes) {
      return failure(dialect, Refusals.checksumBodyTooLarge(settings.maxChunkBytes))
    }
    return undefined
  }

  /** Appends the request's body to `upload` at `offset` and answers with where the upload is. */
  const appendBody = (dialect: Dialect, request: http.IncomingMessage, upload: Tracked, offset: number, counted: boolean, created: boolean) =>
    Effect.gen(function*() {
      const success = (upload: Tracked): Response => ({ status: created ? 201 : 204, headers: state(dialect, upload) })
      const length = TusHeaders.parseCount(header(request, "content-length"))
      if (upload.completed !== undefined && offset === upload.size && (length === 0 || length === undefined)) return success(upload)
      const refusal = appendRefusal(dialect, request, offset, upload.size)
      if (refusal !== undefined) return refusal
      const appended = yield* uploads.append(upload, offset, bodyOf(request), counted)
      return appended._tag === "Refused" ? failure(dialect, appended.refusal) : success(appended.upload)
    })

  const create = (dialect: Dialect, request: http.IncomingMessage, peer: Peer) =>
    Effect.gen(function*() {
      if (header(request, "upload-defer-length") !== undefined) return failure(dialect, Refusals.lengthRequired())
      const complete = dialect._tag === "Ietf"
        ? TusHeaders.completeness(dialect.interop, { complete: header(request, "upload-complete"), incomplete: header(request, "upload-incomplete") })
        : undefined
      const declared = TusHeaders.parseCount(header(request, "upload-length"))
      // An IETF upload that is complete in its first request is as long as that request's body.
      const size = declared ?? (complete === true ? TusHeaders.parseCount(header(request, "content-length")) : undefined)
      if (size === undefined) return failure(dialect, Refusals.lengthRequired())
      if (size > settings.maxFileBytes) return failure(dialect, Refusals.fileTooLarge(size, settings.maxFileBytes))
      const metadata = TusHeaders.parseMetadata(header(request, "upload-metadata"))
      if (Either.isLeft(metadata)) return failure(dialect, Refusals.invalidHeader("Upload-Metadata", metadata.left))
      const fileName = metadata.right.fileName
      if (fileName === undefined) return failure(dialect, Refusals.invalidHeader("Upload-Metadata", "a filename (or name) is required"))
      const hasBody = (TusHeaders.parseCount(header(request, "content-length")) ?? 0) > 0 || header(request, "transfer-encoding") !== undefined
      // A body that would be refused is refused before the upload exists.
      const refusedBody = hasBody ? appendRefusal(dialect, request, 0, size) : undefined
      if (refusedBody !== undefined) return refusedBody
      const outcome = yield* uploads.create(peer, fileName, size, metadata.right.sha256, metadata.right.fileType)
      if (outcome._tag === "Refused") return failure(dialect, outcome.refusal)
      const upload = outcome.upload
      // The upload exists from here on: even when its first bytes are refused, the client learns where it is.
      const withLocation = (response: Response): Response => ({
        ...response,
        headers: { ...response.headers, Location: location(request, upload.uploadId) }
      })
      if (!hasBody) return withLocation({ status: 201, headers: state(dialect, upload) })
      return withLocation(yield* appendBody(dialect, request, upload, 0, true, true))
    })

  const status = (dialect: Dialect, upload: Tracked): Response => ({
    status: dialect._tag === "Tus" ? 200 : 204,
    headers: {
      ...state(dialect, upload),
      "Upload-Length": String(upload.size),
      "Upload-Metadata": TusHeaders.formatMetadata(upload.fileName),
      "Cache-Control": "no-store"
    }
  })

  const append = (dialect: Dialect, request: http.IncomingMessage, upload: Tracked, counted: boolean) =>
    Effect.suspend(() => {
      const offset = TusHeaders.parseCount(header(request, "upload-offset"))
      if (offset === undefined) return Effect.succeed(failure(dialect, Refusals.invalidHeader("Upload-Offset", "expected a non-negative integer")))
      // Checked here for a quick answer, and again in the request's turn (another request may be appending).
      if (offset !== upload.offset) return Effect.succeed(failure(dialect, Refusals.wrongOffset(offset, upload.offset)))
      return appendBody(dialect, request, upload, offset, counted, false)
    })

  /** The request for one upload: find it (resuming it here if need be), then the method. */
  const onUpload = (dialect: Dialect, method: string, request: http.IncomingMessage, uploadId: string, peer: Peer) =>
    Effect.gen(function*() {
      if (method !== "HEAD" && method !== "PATCH" && method !== "DELETE") return failure(dialect, Refusals.methodNotAllowed(), 405)
      const found = yield* uploads.find(uploadId, peer)
      if (found._tag === "Refused") return failure(dialect, found.refusal)
      // A resume for this request was its message (counted by the session); its body is not counted again.
      const counted = found.opened === true
      if (method === "HEAD") return status(dialect, found.upload)
      if (method === "PATCH") return yield* append(dialect, request, found.upload, counted)
      const cancelled = yield* uploads.cancel(found.upload)
      return cancelled._tag === "Refused" ? failure(dialect, cancelled.refusal) : { status: 204, headers: protocolHeaders(dialect) }
    })

  const corsHeaders = (origin: string | undefined): Record<string, string> =>
    origin === undefined ? {} : { "Access-Control-Allow-Origin": origin, "Access-Control-Expose-Headers": TusHeaders.EXPOSED_HEADERS, Vary: "Origin" }

  const route = (request: http.IncomingMessage): Effect.Effect<Response> => {
    const origin = header(request, "origin")
    const method = (request.method === "POST" ? header(request, "x-http-method-override") ?? "POST" : request.method ?? "GET").toUpperCase()
    const tus: Dialect = { _tag: "Tus" }
    if (!OriginPolicy.allows(settings.allowedOrigins, origin, header(request, "host"))) {
      return Effect.succeed({ status: 403, headers: {}, body: "Origin not allowed\n" })
    }
    if (request.method === "OPTIONS") {
      const preflight = header(request, "access-control-request-method") !== undefined
      return Effect.succeed({ status: 204, headers: preflight ? TusHeaders.PREFLIGHT : TusHeaders.discovery(settings.maxFileBytes) })
    }
    const interop = header(request, "upload-draft-interop-version")
    const dialect: Dialect = interop === undefined ? tus : { _tag: "Ietf", interop: interop.trim() }
    let identity: string | undefined
    if (settings.tokens !== undefined) {
      const label = Authentication.authenticate(settings.tokens, Authentication.presented(header(request, "authorization"), request.url))
      if (Option.isNone(label)) {
        return Effect.succeed({ status: 401, headers: { ...protocolHeaders(dialect), "WWW-Authenticate": "Bearer" }, body: "Missing or invalid token\n" })
      }
      identity = label.value
    }
    if (dialect._tag === "Tus" && header(request, "tus-resumable") !== TusHeaders.TUS_VERSION) {
      return Effect.succeed(failure(dialect, Refusals.unsupportedTusVersion(), 412))
    }
    if (dialect._tag === "Ietf" && !TusHeaders.INTEROP_VERSIONS.has(dialect.interop)) {
      return Effect.succeed(failure(dialect, Refusals.unsupportedInteropVersion(), 400))
    }
    const peer: Peer = { clientAddress: ClientAddress.ofRequest(request, settings.trust), identity }
    const path = (request.url ?? "/").split("?", 1)[0] ?? "/"
    const uploadId = path === "/files" ? "" : path.slice(HTTP_UPLOAD_PATH.length)
    if (uploadId === "") {
      return method === "POST" ? create(dialect, request, peer) : Effect.succeed(failure(dialect, Refusals.methodNotAllowed(), 405))
    }
    if (uploadId.includes("/")) return Effect.succeed(failure(dialect, Refusals.unknownUpload()))
    return onUpload(dialect, method, request, uploadId, peer)
  }

  /** Answers `request` on `response`; never fails. */
  const serve = (request: http.IncomingMessage, response: http.ServerResponse): Effect.Effect<void> =>
    Effect.map(
      route(request).pipe(Effect.catchAllDefect(() => Effect.succeed<Response>(failure({ _tag: "Tus" }, Refusals.internalError())))),
      (answer) => {
        if (response.headersSent || response.destroyed) return
        const headers: Record<string, string> = { ...corsHeaders(header(request, "origin")), ...answer.headers }
        // A body left unread (a refused PATCH) is not worth reading: the connection closes after the answer.
        const bodyless = header(request, "transfer-encoding") === undefined && (TusHeaders.parseCount(header(request, "content-length")) ?? 0) === 0
        if (bodyless) request.resume()
        else if (!request.complete) headers["Connection"] = "close"
        const body = request.method === "HEAD" ? undefined : answer.body
        if (request.method !== "HEAD") headers["Content-Length"] = String(body === undefined ? 0 : Buffer.byteLength(body))
        response.writeHead(answer.status, headers)
        response.end(body)
      }
    )

  return { serve }
}
