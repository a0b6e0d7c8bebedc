/**
 * The PreUploadHook port: asks another system whether an upload may start,
 * or go on, before the server answers its file_meta: a resume is asked
 * again (the policy may have changed since), a resume of an upload that
 * completed is not (it writes nothing).
 */
import { Context, Data, Effect, Option } from "effect"
import * as Refusals from "../../domain/Refusals.js"

/** What the hook is told about an upload (never its contents). */
export interface UploadRequest {
  /** file_name as the client sent it. */
  readonly fileName: string
  readonly size: number
  readonly sha256?: string | undefined
  readonly clientAddress: string
  /** The authenticated identity of the client, when auth is on. */
  readonly identity?: string | undefined
  /** True when the client resumes an upload it started earlier (allowed then). */
  readonly resume?: boolean
}

export type HookVerdict = Data.TaggedEnum<{
  Allowed: {}
  /** `reason` is sent to the client as the message of an `upload_refused` error (Refusals.uploadRefused). */
  Refused: { readonly reason: string }
}>
export const HookVerdict = Data.taggedEnum<HookVerdict>()

/** The refusal text when a hook refuses without saying why (the texts live in Refusals). */
export const DEFAULT_REFUSAL = Refusals.hookRefusedWithoutReason().message
/** The refusal text when the hook cannot be asked (and the server fails closed). */
export const HOOK_UNAVAILABLE = Refusals.hookUnavailable().message

export class PreUploadHook extends Context.Tag("file-receiver/PreUploadHook")<PreUploadHook, {
  /**
   * Decides whether `request` may start. Never fails: an unreachable hook
   * is turned into a verdict by the adapter (refused, or allowed when it is
   * configured to fail open), and logged.
   */
  readonly check: (request: UploadRequest) => Effect.Effect<HookVerdict>
}>() {}

/** The hook in the current context; every upload is allowed when none is provided. */
export const checker: Effect.Effect<(request: UploadRequest) => Effect.Effect<HookVerdict>> = Effect.map(
  Effect.serviceOption(PreUploadHook),
  Option.match({
    onNone: () => () => Effect.succeed(HookVerdict.Allowed()),
    onSome: (hook) => hook.check
  })
)
