/**
 * PreUploadHook over HTTP: POSTs the upload request as JSON to
 * PRE_UPLOAD_HOOK_URL (signed like webhooks when a secret is set) and
 * allows the upload on a 2xx answer. Any other answer refuses it, with the
 * hook's reason (`{"reason": "..."}` or a plain-text body, cut to
 * MAX_REASON_LENGTH characters, control characters removed) as the client's error message. A
 * hook that does not answer in time, or cannot be reached, refuses the upload
 * unless the hook is configured to fail open.
 */
import { Duration, Effect, Layer, Option } from "effect"
import type { Redacted } from "effect"
import { DEFAULT_REFUSAL, HOOK_UNAVAILABLE, HookVerdict, PreUploadHook, type UploadRequest } from "../../application/ports/PreUploadHook.js"
import { post } from "./HttpPost.js"

export interface HookSettings {
  readonly url: string
  readonly secret: Option.Option<Redacted.Redacted<string>>
  readonly timeout: Duration.Duration
  /** Allow uploads when the hook cannot be asked (default: refuse them). */
  readonly failOpen: boolean
}

export const MAX_REASON_LENGTH = 200

/** The refusal text from a hook's answer body: its JSON `reason` (or `message`), else the text itself. */
export const reasonFrom = (body: string): string => {
  let text = body
  try {
    const parsed: unknown = JSON.parse(body)
    if (typeof parsed === "object" && parsed !== null) {
      const { message, reason } = parsed as { reason?: unknown; message?: unknown }
      text = typeof reason === "string" ? reason : typeof message === "string" ? message : ""
    }
  } catch {
    // Not JSON: the body is the reason.
  }
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, " ").replace(/\s+/g, " ").trim()
  const bounded = [...clean].slice(0, MAX_REASON_LENGTH).join("")
  return bounded === "" ? DEFAULT_REFUSAL : bounded
}

/** What the hook is sent (snake_case, like the wire protocol). */
const requestBody = (request: UploadRequest) =>
  JSON.stringify({
    type: "upload.requested",
    file_name: request.fileName,
    file_size: request.size,
    ...(request.sha256 === undefined ? {} : { sha256: request.sha256 }),
    client_address: request.clientAddress,
    ...(request.identity === undefined ? {} : { identity: request.identity }),
    ...(request.resume === true ? { resume: true } : {})
  })

export const make = (settings: HookSettings) =>
  PreUploadHook.of({
    check: (request) =>
      post({
        url: settings.url,
        body: requestBody(request),
        secret: settings.secret,
        timeoutMillis: Duration.toMillis(settings.timeout),
        headers: { "x-file-receiver-event": "upload.requested" },
        bodyLimit: 4096
      }).pipe(
        Effect.map(({ body, status }) =>
          status >= 200 && status < 300 ? HookVerdict.Allowed() : HookVerdict.Refused({ reason: reasonFrom(body) })
        ),
        Effect.catchAll((error) =>
          Effect.as(
            Effect.logError(settings.failOpen ? "pre-upload hook unavailable; allowing the upload" : "pre-upload hook unavailable; refusing the upload").pipe(
              Effect.annotateLogs({ error: error.message, client: request.clientAddress })
            ),
            settings.failOpen ? HookVerdict.Allowed() : HookVerdict.Refused({ reason: HOOK_UNAVAILABLE })
          )
        )
      )
  })

export const layer = (settings: HookSettings): Layer.Layer<PreUploadHook> => Layer.succeed(PreUploadHook, make(settings))
