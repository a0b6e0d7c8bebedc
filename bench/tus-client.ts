/**
 * The peer's client: tus-js-client (Node) uploading one Buffer to
 * tus-node-server with its defaults, i.e. one creation POST and then the
 * whole body in one streaming PATCH (chunkSize Infinity). No retries, so a
 * failure shows instead of being retried away.
 */
import { Upload } from "tus-js-client"

/** Uploads `body` to the tus creation `endpoint`; returns the upload id (the file's name in the store). */
export const uploadOverTus = (endpoint: string, body: Buffer, fileName: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const upload = new Upload(body, {
      endpoint,
      uploadSize: body.length,
      metadata: { filename: fileName },
      retryDelays: null,
      storeFingerprintForResuming: false,
      onError: reject,
      onSuccess: () => {
        const id = upload.url?.split("/").pop()
        if (id === undefined || id === "") reject(new Error(`tus upload finished without an upload URL (${upload.url})`))
        else resolve(id)
      }
    })
    upload.start()
  })
