/**
 * s3rver with UploadPartCopy: an HTTP proxy in front of s3rver that answers
 * UploadPartCopy itself (the one S3 call the large-file publish needs that
 * s3rver does not implement), by reading the source range from s3rver and
 * uploading it to s3rver as that part, and forwards every other request
 * untouched (its signature included). The bytes and the multipart upload
 * are s3rver's; only the copy of a range is done here. A completion that
 * carries `If-None-Match: *` fails with 412 when its key exists, as AWS S3
 * answers (s3rver ignores the header). With `copyParts: false` it forwards
 * UploadPartCopy too, which s3rver refuses (501). Options refuse requests
 * or replace their answers, to play S3's failures.
 */
import { GetObjectCommand, HeadObjectCommand, S3Client, UploadPartCommand } from "@aws-sdk/client-s3"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { S3RVER_CREDENTIALS } from "./s3rver.js"

export interface CopyPartProxy {
  readonly endpoint: string
  /** UploadPartCopy requests answered so far, with their ranges. */
  readonly copies: () => ReadonlyArray<{ readonly partNumber: number; readonly range: string }>
  /** Every request, as `METHOD /key?query-names` with `+copy` when it copies (x-amz-copy-source): the S3 calls made. */
  readonly requests: () => ReadonlyArray<string>
  readonly close: () => Promise<void>
}

const readAll = async (body: AsyncIterable<Buffer>) => {
  const chunks: Array<Buffer> = []
  for await (const chunk of body) chunks.push(chunk)
  return Buffer.concat(chunks)
}

export interface ProxyOptions {
  /** Answer UploadPartCopy here (default); false forwards it to s3rver, which refuses it. */
  readonly copyParts?: boolean
  /** Runs before a CompleteMultipartUpload is forwarded, and before its `If-None-Match: *` is checked (a rival writing the key, say). */
  readonly beforeComplete?: (key: string) => Promise<void>
  /** Requests (as `requests()` logs them) answered 503 SlowDown without reaching s3rver. */
  readonly refuse?: (call: string) => boolean
  /**
   * Requests (as `requests()` logs them) that s3rver carries out, after which the client gets this
   * answer instead of s3rver's: "lose" cuts the connection, a status answers an error with that code.
   */
  readonly answerInstead?: (call: string) => "lose" | { readonly status: number; readonly code: string } | undefined
  /** While this says true, every copy (CopyObject and UploadPartCopy) is answered 503 SlowDown (S3 refusing for a while). */
  readonly refuseCopies?: () => boolean
}

export const startCopyPartProxy = async (s3rverEndpoint: string, options: ProxyOptions = {}): Promise<CopyPartProxy> => {
  const target = new URL(s3rverEndpoint)
  const client = new S3Client({
    endpoint: s3rverEndpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: S3RVER_CREDENTIALS,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED"
  })
  const copies: Array<{ partNumber: number; range: string }> = []
  const requests: Array<string> = []

  const copyPart = async (request: http.IncomingMessage, response: http.ServerResponse, url: URL) => {
    const [, bucket, ...keyParts] = url.pathname.split("/")
    const [sourceBucket, ...sourceParts] = String(request.headers["x-amz-copy-source"]).replace(/^\//, "").split("/")
    const range = String(request.headers["x-amz-copy-source-range"])
    const partNumber = Number(url.searchParams.get("partNumber"))
    copies.push({ partNumber, range })
    const source = await client.send(
      new GetObjectCommand({ Bucket: sourceBucket, Key: sourceParts.map(decodeURIComponent).join("/"), Range: range })
    )
    const body = await readAll(source.Body as AsyncIterable<Buffer>)
    const uploaded = await client.send(
      new UploadPartCommand({
        Bucket: bucket,
        Key: keyParts.map(decodeURIComponent).join("/"),
        UploadId: url.searchParams.get("uploadId")!,
        PartNumber: partNumber,
        Body: body,
        ContentLength: body.length
      })
    )
    response.writeHead(200, { "content-type": "application/xml" })
    response.end(
      `<?xml version="1.0" encoding="UTF-8"?><CopyPartResult><LastModified>${new Date().toISOString()}</LastModified>` +
        `<ETag>${uploaded.ETag}</ETag></CopyPartResult>`
    )
  }

  const server = http.createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://proxy")
    const copying = "x-amz-copy-source" in request.headers
    const query = [...url.searchParams.keys()].filter((name) => !name.startsWith("x-id")).sort().join("&")
    const call = `${request.method} ${decodeURIComponent(url.pathname.split("/").slice(2).join("/"))}${query === "" ? "" : `?${query}`}${copying ? " +copy" : ""}`
    requests.push(call)
    if (options.refuse?.(call) === true) {
      request.resume()
      response.writeHead(503, { "content-type": "application/xml" })
      response.end(`<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
      return
    }
    const instead = options.answerInstead?.(call)
    if (instead !== undefined) return forward(instead)
    const [, bucket, ...keyParts] = url.pathname.split("/")
    const key = keyParts.map(decodeURIComponent).join("/")
    const completing = request.method === "POST" && url.searchParams.has("uploadId")
    // A conditional completion is answered as AWS S3 answers it (412 when the key exists), which s3rver does not.
    if (completing && (options.beforeComplete !== undefined || request.headers["if-none-match"] === "*")) {
      const beforeComplete = options.beforeComplete ?? (() => Promise.resolve())
      request.pause()
      beforeComplete(key)
        .then(() => request.headers["if-none-match"] === "*" ? client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(() => true, () => false) : false)
        .then((taken) => {
          if (!taken) return forward()
          request.resume()
          response.writeHead(412, { "content-type": "application/xml" })
          response.end(`<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>`)
        }, () => response.destroy())
      return
    }
    if (copying && options.refuseCopies?.() === true) {
      request.resume()
      response.writeHead(503, { "content-type": "application/xml" })
      response.end(`<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
      return
    }
    if (options.copyParts !== false && request.method === "PUT" && url.searchParams.has("uploadId") && copying) {
      request.resume()
      copyPart(request, response, url).catch((cause: unknown) => {
        response.writeHead(500, { "content-type": "application/xml" })
        response.end(`<Error><Code>InternalError</Code><Message>${String(cause)}</Message></Error>`)
      })
      return
    }
    forward()

    function forward(replaced?: "lose" | { readonly status: number; readonly code: string }) {
      const upstream = http.request(
        { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers },
        (answer) => {
          if (replaced === "lose") {
            // Done upstream; the client never hears of it.
            answer.resume()
            answer.on("end", () => response.destroy())
            return
          }
          if (replaced !== undefined) {
            answer.resume()
            answer.on("end", () => {
              response.writeHead(replaced.status, { "content-type": "application/xml" })
              response.end(`<Error><Code>${replaced.code}</Code><Message>answered by the test proxy</Message></Error>`)
            })
            return
          }
          response.writeHead(answer.statusCode ?? 502, answer.headers)
          answer.pipe(response)
        }
      )
      upstream.on("error", () => response.destroy())
      request.pipe(upstream)
      request.resume()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    copies: () => copies,
    requests: () => requests,
    close: async () => {
      client.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
