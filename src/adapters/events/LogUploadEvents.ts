/**
 * The default UploadEvents receiver: one structured log line per event. The
 * line names the upload by its reference, never by its id.
 */
import { Effect } from "effect"
import type { UploadEvent } from "../../application/ports/UploadEvents.js"

/** Logs `event` at info level (failures and expiries too: they are normal outcomes). */
export const publish = (event: UploadEvent): Effect.Effect<void> => {
  const { client_address, id, occurred_at: _occurredAt, started_at: _startedAt, upload_id: _uploadId, upload_ref, ...fields } = event
  return Effect.logInfo("upload event").pipe(
    Effect.annotateLogs({
      ...fields,
      event: id,
      upload: upload_ref,
      ...(client_address === undefined ? {} : { client: client_address })
    })
  )
}
