/**
 * The S3 calls the S3 store makes, on the official `@aws-sdk/client-s3`,
 * bound to one bucket and key prefix, as promises (the store wraps them into
 * Effects). Works with any S3-compatible server: a custom endpoint,
 * path-style addressing, and no checksum headers beyond what S3 requires
 * (many compatible servers do not understand the SDK's default trailing
 * checksums).
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand
} from "@aws-sdk/client-s3"
import { Redacted } from "effect"
import type { Readable } from "node:stream"
import type { UploadedPart } from "./PartWriter.js"

export interface S3Settings {
  readonly bucket: string
  /** e.g. `http://127.0.0.1:9000` for MinIO; unset for AWS. */
  readonly endpoint?: string | undefined
  readonly region: string
  /** Prepended to every key (`uploads/`); "" for the bucket's root. */
  readonly prefix: string
  /** `http://host/bucket/key` instead of `http://bucket.host/key` (MinIO and most compatible servers need it). */
  readonly forcePathStyle: boolean
  /** Bytes per multipart part (at least 5 MiB, S3's minimum). */
  readonly partSize: number
  /** Parts of one upload sent at once (S3_PART_CONCURRENCY); absent: 4. */
  readonly partConcurrency?: number | undefined
  /**
   * The largest object published with one CopyObject; larger ones are copied in
   * parts (S3LargeCopy). Absent: S3's limit, 5 GiB. Only tests lower it (to at least 5 MiB).
   */
  readonly singleCopyLimit?: number | undefined
  /** Explicit credentials; unset: the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profiles, instance roles). */
  readonly credentials?: S3Credentials | undefined
}

/** Secrets, revealed only to the SDK's client. */
export interface S3Credentials {
  readonly accessKeyId: Redacted.Redacted<string>
  readonly secretAccessKey: Redacted.Redacted<string>
  readonly sessionToken?: Redacted.Redacted<string> | undefined
}

const revealed = (credentials: S3Credentials) => ({
  accessKeyId: Redacted.value(credentials.accessKeyId),
  secretAccessKey: Redacted.value(credentials.secretAccessKey),
  ...(credentials.sessionToken === undefined ? {} : { sessionToken: Redacted.value(credentials.sessionToken) })
})

/** S3's smallest part (except the last one). */
export const MIN_PART_SIZE = 5 * 1024 * 1024
/** S3's largest single-request copy. */
export const MAX_COPY_SIZE = 5 * 1024 * 1024 * 1024

const statusOf = (cause: unknown): number | undefined =>
  typeof cause === "object" && cause !== null && "$metadata" in cause
    ? (cause.$metadata as { httpStatusCode?: number }).httpStatusCode
    : undefined
const nameOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "name" in cause ? String(cause.name) : undefined

/** The key (or bucket) does not exist. */
export const isMissing = (cause: unknown): boolean =>
  statusOf(cause) === 404 || nameOf(cause) === "NoSuchKey" || nameOf(cause) === "NotFound"
/**
 * A conditional write lost: the key exists (412). Not a 409 (ConditionalRequestConflict: another
 * conditional write on the key is in progress, which may be this upload's own earlier attempt): that one
 * is a failure to retry later, never a reason to move on to another name.
 */
export const isConditionFailed = (cause: unknown): boolean =>
  statusOf(cause) === 412 || nameOf(cause) === "PreconditionFailed"
/** A multipart upload that does not exist (any more): completed, or aborted. */
export const isNoSuchUpload = (cause: unknown): boolean => nameOf(cause) === "NoSuchUpload"
/** The server does not implement the request (s3rver: AbortMultipartUpload, conditional copies on some servers). */
export const isUnsupported = (cause: unknown): boolean =>
  statusOf(cause) === 405 || statusOf(cause) === 501 || nameOf(cause) === "NotImplemented" || nameOf(cause) === "MethodNotAllowed"

export interface ListedObject {
  readonly key: string
  readonly size: number
  readonly lastModified: number
}

/** One bucket and prefix; keys given to its methods are relative to the prefix. */
export const make = (settings: S3Settings) => {
  const client = new S3Client({
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    ...(settings.credentials === undefined ? {} : { credentials: revealed(settings.credentials) }),
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    // A server that stops answering fails the request (and the upload) instead of holding it forever.
    requestHandler: { connectionTimeout: 10_000, socketTimeout: 60_000 }
  })
  const Bucket = settings.bucket
  const prefix = settings.prefix
  const full = (key: string) => prefix + key
  /** `x-amz-copy-source` for `key`: the bucket and the key's encoded segments. */
  const copySource = (key: string) => `${Bucket}/${full(key).split("/").map(encodeURIComponent).join("/")}`

  /** Who published `key` (its `upload` metadata, see `put` and `copy`: "" when it has none), or undefined when it does not exist. */
  const publisher = async (key: string): Promise<string | undefined> => {
    try {
      return (await client.send(new HeadObjectCommand({ Bucket, Key: full(key) }))).Metadata?.["upload"] ?? ""
    } catch (cause) {
      if (isMissing(cause)) return undefined
      throw cause
    }
  }
  const exists = async (key: string): Promise<boolean> => (await publisher(key)) !== undefined

  return {
    client,
    settings,
    exists,
    publisher,
    /** Size of `key`, or undefined when it does not exist. */
    size: async (key: string): Promise<number | undefined> => {
      try {
        return (await client.send(new HeadObjectCommand({ Bucket, Key: full(key) }))).ContentLength ?? 0
      } catch (cause) {
        if (isMissing(cause)) return undefined
        throw cause
      }
    },
    /** Writes `key`; with `ifAbsent`, only if it does not exist yet; `upload` names who publishes it (see `publisher`). */
    put: (key: string, body: Buffer | string, ifAbsent = false, upload?: string) =>
      client.send(
        new PutObjectCommand({
          Bucket,
          Key: full(key),
          Body: body,
          ...(ifAbsent ? { IfNoneMatch: "*" } : {}),
          ...(upload === undefined ? {} : { Metadata: { upload } })
        })
      ),
    /** Copies `from` to `to` inside the bucket (server-side, up to 5 GiB); with `ifAbsent`, only if `to` does not exist yet. */
    copy: (from: string, to: string, ifAbsent = false, upload?: string) =>
      client.send(
        new CopyObjectCommand({
          Bucket,
          Key: full(to),
          CopySource: copySource(from),
          ...(ifAbsent ? { IfNoneMatch: "*" } : {}),
          ...(upload === undefined ? {} : { Metadata: { upload }, MetadataDirective: "REPLACE" })
        })
      ),
    /** The bytes of `key` (or of its first `length` bytes) as a stream, or undefined when it does not exist. */
    read: async (key: string, length?: number): Promise<Readable | undefined> => {
      try {
        const range = length === undefined ? {} : { Range: `bytes=0-${length - 1}` }
        return (await client.send(new GetObjectCommand({ Bucket, Key: full(key), ...range }))).Body as Readable
      } catch (cause) {
        if (isMissing(cause)) return undefined
        throw cause
      }
    },
    /** Deletes `key`; succeeds when it does not exist. */
    remove: (key: string) => client.send(new DeleteObjectCommand({ Bucket, Key: full(key) })).then(() => undefined),
    /** Every object under `under` (relative to the prefix), all pages. */
    list: async (under: string): Promise<ReadonlyArray<ListedObject>> => {
      const found: Array<ListedObject> = []
      let ContinuationToken: string | undefined
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket, Prefix: full(under), ContinuationToken }))
        for (const object of page.Contents ?? []) {
          if (object.Key === undefined) continue
          found.push({ key: object.Key.slice(prefix.length), size: object.Size ?? 0, lastModified: object.LastModified?.getTime() ?? 0 })
        }
        ContinuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined
      } while (ContinuationToken !== undefined)
      return found
    },
    /** Starts a multipart upload on `key`; `upload` names who publishes the object it completes (see `publisher`). */
    createMultipart: async (key: string, upload?: string): Promise<string> => {
      const created = await client.send(
        new CreateMultipartUploadCommand({ Bucket, Key: full(key), ...(upload === undefined ? {} : { Metadata: { upload } }) })
      )
      if (created.UploadId === undefined) throw new Error("CreateMultipartUpload answered without an upload id")
      return created.UploadId
    },
    uploadPart: async (key: string, uploadId: string, partNumber: number, body: Buffer): Promise<string> => {
      const uploaded = await client.send(
        new UploadPartCommand({ Bucket, Key: full(key), UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.length })
      )
      if (uploaded.ETag === undefined) throw new Error(`UploadPart ${partNumber} answered without an ETag`)
      return uploaded.ETag
    },
    /** Part `partNumber` of `key`'s multipart upload is bytes `first` to `last` (inclusive) of `from`, copied server-side; its ETag. */
    copyPart: async (from: string, key: string, uploadId: string, partNumber: number, first: number, last: number): Promise<string> => {
      const copied = await client.send(
        new UploadPartCopyCommand({
          Bucket,
          Key: full(key),
          UploadId: uploadId,
          PartNumber: partNumber,
          CopySource: copySource(from),
          CopySourceRange: `bytes=${first}-${last}`
        })
      )
      const etag = copied.CopyPartResult?.ETag
      if (etag === undefined) throw new Error(`UploadPartCopy ${partNumber} answered without an ETag`)
      return etag
    },
    /** Completes `key`'s multipart upload; with `ifAbsent`, only if `key` does not exist yet (If-None-Match: *). */
    completeMultipart: (key: string, uploadId: string, parts: ReadonlyArray<UploadedPart>, ifAbsent = false) =>
      client.send(
        new CompleteMultipartUploadCommand({
          Bucket,
          Key: full(key),
          UploadId: uploadId,
          MultipartUpload: { Parts: [...parts] },
          ...(ifAbsent ? { IfNoneMatch: "*" } : {})
        })
      ),
    abortMultipart: (key: string, uploadId: string) =>
      client.send(new AbortMultipartUploadCommand({ Bucket, Key: full(key), UploadId: uploadId })).then(() => undefined),
    /** Succeeds when the bucket exists and these credentials may use it. */
    headBucket: () => client.send(new HeadBucketCommand({ Bucket })).then(() => undefined)
  }
}

export type S3Bucket = ReturnType<typeof make>
