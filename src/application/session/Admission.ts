/**
 * Admission of an upload that is about to write. The pre-upload hook decides
 * on new uploads and resumes alike (a policy may have changed since an
 * upload started); this is the one place where its verdict becomes a
 * refusal. The client's quota of unfinished uploads (UploadQuota) wraps the
 * uploads service the session uses.
 */
import { Effect, LogLevel, Metric } from "effect"
import * as Refusals from "../../domain/Refusals.js"
import * as Metrics from "../infrastructure/Metrics.js"
import * as UploadQuota from "../limits/UploadQuota.js"
import type { ConcurrencyLimiter } from "../ports/ConcurrencyLimiter.js"
import type { HookVerdict, UploadRequest } from "../ports/PreUploadHook.js"
import { refuse, type UploadRefused } from "../uploads/UploadFailure.js"
import type { Uploads } from "../uploads/Uploads.js"
import type { SessionLog } from "./SessionContext.js"
import type { Connection } from "./Connection.js"

/** `uploads` for the client at `clientAddress`, counted against its quota when there is one. */
export const withQuota = (
  uploads: Uploads,
  limiter: ConcurrencyLimiter["Type"],
  quota: UploadQuota.UploadQuotaSettings | undefined,
  clientAddress: string
): Uploads => (quota === undefined ? uploads : UploadQuota.guard(uploads, limiter, quota, clientAddress))

/** What the hook is asked about an upload, beyond who asks. */
export type Request = Omit<UploadRequest, "clientAddress" | "identity">

/**
 * `admit(request, logged)` asks the hook about `request` from `connection`'s
 * client: it succeeds when allowed, and fails with the `upload_refused`
 * refusal (counted, and logged with `logged`) when not.
 */
export const make = (
  check: (request: UploadRequest) => Effect.Effect<HookVerdict>,
  connection: Connection,
  log: SessionLog
) =>
(request: Request, logged: Record<string, unknown>): Effect.Effect<void, UploadRefused> =>
  Effect.flatMap(
    check({ ...request, clientAddress: connection.clientAddress, identity: connection.identity }),
    (verdict) =>
      verdict._tag === "Allowed" ? Effect.void : Effect.zipRight(
        Effect.zipRight(
          Metric.increment(Metrics.preUploadHookRefusals),
          log(LogLevel.Info, request.resume === true ? "resume refused by the pre-upload hook" : "upload refused by the pre-upload hook", { ...logged, reason: verdict.reason })
        ),
        Effect.fail(refuse(Refusals.uploadRefused(verdict.reason)))
      )
  )
