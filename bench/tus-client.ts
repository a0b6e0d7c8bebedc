/**
 * The tus client: tus-js-client (Node) uploading one Buffer with its
 * defaults, i.e. one creation POST and then the whole body in one streaming
 * PATCH (chunkSize Infinity), or in PATCHes of `chunkSize` bytes. No
 * retries, so a failure shows instead of being retried away.
 */
import { Upload } from "tus-js-client"

/** A finished upload: its id (the last segment of its URL) and a header of the response that completed it. */
export interface TusUploaded {
  readonly id: string
  readonly lastHeader: (name: string) => string | undefined
}

/** Uploads `body` to the tus creation `endpoint`, `chunkSize` bytes per PATCH. */
export const uploadOverTus = (endpoint: string, body: Buffer, fileName: string, chunkSize = Infinity): Promise<TusUploaded> =>
  new Promise((resolve, reject) => {
    const upload = new Upload(body, {
      endpoint,
      uploadSize: body.length,
      chunkSize,
      metadata: { filename: fileName },
      retryDelays: null,
      storeFingerprintForResuming: false,
      onError: reject,
      onSuccess: ({ lastResponse }) => {
        const id = upload.url?.split("/").pop()
        if (id === undefined || id === "") reject(new Error(`tus upload finished without an upload URL (${upload.url})`))
        else resolve({ id, lastHeader: (name) => lastResponse.getHeader(name) })
      }
    })
    upload.start()
  })
