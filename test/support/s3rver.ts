/**
 * A real S3-speaking server for tests: s3rver on a temporary folder, on a
 * free loopback port, with one bucket. Not a mock: the S3 adapter talks to it
 * through the AWS SDK over HTTP, as it would to AWS or MinIO.
 */
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as path from "node:path"
import { Redacted } from "effect"
import S3rver from "s3rver"
import type { S3Settings } from "../../src/adapters/s3/S3Bucket.js"

export interface RunningS3 {
  readonly endpoint: string
  readonly bucket: string
  readonly directory: string
  /** Settings for the S3 adapter on this server under `prefix`. */
  readonly settings: (prefix: string, partSize?: number) => S3Settings
  /** Environment variables that point the server at it (STORAGE=s3). */
  readonly env: (prefix: string) => Record<string, string>
  readonly stop: () => Promise<void>
}

/** s3rver's fixed credentials. */
export const S3RVER_CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }

export const startS3rver = async (bucket = "file-receiver-test"): Promise<RunningS3> => {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), "fr-s3rver-"))
  const server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory, configureBuckets: [{ name: bucket, configs: [] }] })
  const { port } = await server.run()
  const endpoint = `http://127.0.0.1:${port}`
  return {
    endpoint,
    bucket,
    directory,
    settings: (prefix, partSize = 5 * 1024 * 1024) => ({
      bucket,
      endpoint,
      region: "us-east-1",
      prefix,
      forcePathStyle: true,
      partSize,
      credentials: {
        accessKeyId: Redacted.make(S3RVER_CREDENTIALS.accessKeyId),
        secretAccessKey: Redacted.make(S3RVER_CREDENTIALS.secretAccessKey)
      }
    }),
    env: (prefix) => ({
      STORAGE: "s3",
      S3_ENDPOINT: endpoint,
      S3_BUCKET: bucket,
      S3_REGION: "us-east-1",
      S3_PREFIX: prefix,
      S3_FORCE_PATH_STYLE: "true",
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey
    }),
    stop: async () => {
      await server.close()
      await fs.rm(directory, { recursive: true, force: true })
    }
  }
}
