/**
 * The default UploadEvents receiver: one structured log line per event. The
 * line names the upload by its reference, never by its id.
 */
import type { Effect } from "effect"
import * as LogLines from "../../application/infrastructure/LogLines.js"
import type { UploadEvent } from "../../application/ports/UploadEvents.js"

/** Logs `event` at info level (failures and expiries too: they are normal outcomes). */
export const publish = (event: UploadEvent): Effect.Effect<void> => {
  const { client_address, id, occurred_at: _occurredAt, started_at: _startedAt, upload_id: _uploadId, upload_ref, ...fields } = event
  // One per upload: LogLines makes it without Effect.annotateLogs' copies of the fiber's FiberRefs.
  return LogLines.info("upload event", {
    ...fields,
    event: id,
    upload: upload_ref,
    ...(client_address === undefined ? {} : { client: client_address })
  })
}
