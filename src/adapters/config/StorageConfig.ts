/**
 * Where files go (STORAGE, S3_*) and where unfinished uploads are remembered
 * (UPLOAD_REGISTRY), decoded into tagged unions that carry what each choice
 * needs. The S3 variables are checked only when STORAGE=s3; UPLOAD_REGISTRY
 * defaults to redis with REDIS_URL, else filesystem.
 */
import { Config, type ConfigError, Data, type Duration, Either, Option } from "effect"
import type { S3Settings } from "../s3/S3Bucket.js"
import { invalid, oneOf, optionalSecret, optionalString, parseBoolean, parseChoice, parseIntegerBetween } from "./ConfigValues.js"
import type { RedisSettings } from "./RedisConfig.js"

const MiB = 1024 * 1024

/** Where files go. */
export type Storage = Data.TaggedEnum<{
  /** FILE_SAVE_DIRECTORY; `sync`: fsync each finished file and the directory (SYNC_UPLOADS). */
  filesystem: { readonly directory: string; readonly sync: boolean }
  s3: { readonly settings: S3Settings }
  /** Lost on restart (tests, demos). */
  memory: {}
}>
export const Storage = Data.taggedEnum<Storage>()

/** Where unfinished uploads are remembered, for resuming them. */
export type Registry = Data.TaggedEnum<{
  /** This process only. */
  memory: {}
  /** Sidecar files next to the partial files: survives a restart, one instance per directory. */
  filesystem: { readonly directory: string; readonly sync: boolean }
  /** Shared by instances; a record lasts `expiry` after its last chunk. */
  redis: { readonly redis: RedisSettings; readonly expiry: Duration.Duration }
}>
export const Registry = Data.taggedEnum<Registry>()

/** S3's largest object: 5 TiB. */
export const S3_MAX_OBJECT_MIB = 5 * 1024 * 1024
/** S3's most parts in one multipart upload: a file is at most that many parts of S3_PART_SIZE. */
export const S3_MAX_PARTS = 10_000

/** The largest file the S3 store can hold with parts of `partSize` bytes, in MiB. */
export const s3MaxFileMib = (partSize: number) => Math.min(S3_MAX_OBJECT_MIB, Math.floor((partSize * S3_MAX_PARTS) / MiB))
const MIN_PART_SIZE = 5 * MiB

/** The variables as given; decoded by `decode`, which knows the rest of the configuration. */
export const StorageVariables = Config.all({
  storage: oneOf("STORAGE", ["filesystem", "s3", "memory"], "filesystem"),
  // Empty means unset: the default follows REDIS_URL.
  registry: Config.option(Config.string("UPLOAD_REGISTRY")).pipe(
    Config.mapOrFail((text) =>
      Option.match(Option.filter(text, (choice) => choice.trim() !== ""), {
        onNone: () => Either.right(Option.none()),
        onSome: (choice) => Either.map(parseChoice("UPLOAD_REGISTRY", ["memory", "filesystem", "redis"], choice), Option.some)
      }))
  ),
  s3: Config.all({
    bucket: optionalString("S3_BUCKET"),
    endpoint: optionalString("S3_ENDPOINT"),
    region: optionalString("S3_REGION"),
    prefix: Config.string("S3_PREFIX").pipe(Config.withDefault("")),
    forcePathStyle: optionalString("S3_FORCE_PATH_STYLE"),
    partSize: optionalString("S3_PART_SIZE"),
    partConcurrency: optionalString("S3_PART_CONCURRENCY"),
    // Empty keys count as unset (the SDK's chain), so a compose file can clear its MinIO defaults.
    accessKeyId: optionalSecret("AWS_ACCESS_KEY_ID"),
    secretAccessKey: optionalSecret("AWS_SECRET_ACCESS_KEY"),
    sessionToken: optionalSecret("AWS_SESSION_TOKEN")
  })
})

type S3Variables = Config.Config.Success<typeof StorageVariables>["s3"]

const s3Settings = (raw: S3Variables): Either.Either<S3Settings, ConfigError.ConfigError> =>
  Either.gen(function*() {
    const bucket = yield* Option.match(raw.bucket, {
      onNone: () => invalid("S3_BUCKET", "a bucket name when STORAGE=s3", ""),
      onSome: (name) => (/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) ? Either.right(name) : invalid("S3_BUCKET", "an S3 bucket name (3-63 of a-z, 0-9, . and -)", name))
    })
    const endpoint = yield* Option.match(raw.endpoint, {
      onNone: () => Either.right(undefined),
      onSome: (url) => (/^https?:\/\/[^\s/]+/.test(url) ? Either.right(url) : invalid("S3_ENDPOINT", "an http:// or https:// URL", url))
    })
    const forcePathStyle = yield* Option.match(raw.forcePathStyle, {
      onNone: () => Either.right(false),
      onSome: (text) => parseBoolean("S3_FORCE_PATH_STYLE", text)
    })
    const partSize = yield* Option.match(raw.partSize, {
      onNone: () => Either.right(8 * MiB),
      onSome: (text) => parseIntegerBetween("S3_PART_SIZE", MIN_PART_SIZE, 5 * 1024 * MiB, text, "bytes")
    })
    const partConcurrency = yield* Option.match(raw.partConcurrency, {
      onNone: () => Either.right(4),
      onSome: (text) => parseIntegerBetween("S3_PART_CONCURRENCY", 1, 64, text, "parts")
    })
    if (Option.isSome(raw.accessKeyId) !== Option.isSome(raw.secretAccessKey)) {
      return yield* invalid("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY set together", "only one of them")
    }
    const prefix = raw.prefix.trim().replace(/^\/+/, "")
    const credentials = Option.all({ accessKeyId: raw.accessKeyId, secretAccessKey: raw.secretAccessKey }).pipe(
      Option.map((keys) => ({ ...keys, sessionToken: Option.getOrUndefined(raw.sessionToken) }))
    )
    return {
      bucket,
      endpoint,
      region: Option.getOrElse(raw.region, () => "us-east-1"),
      prefix: prefix === "" || prefix.endsWith("/") ? prefix : `${prefix}/`,
      forcePathStyle,
      partSize,
      partConcurrency,
      credentials: Option.getOrUndefined(credentials)
    }
  })

/** The settings the choices need, read elsewhere. */
export interface StorageContext {
  readonly directory: string
  readonly sync: boolean
  readonly maxFileBytes: number
  readonly redis: Option.Option<RedisSettings>
  readonly expiry: Duration.Duration
}

/** The storage and registry for `raw`; fails for a choice whose settings are missing or bad. */
export const decode = (
  raw: Config.Config.Success<typeof StorageVariables>,
  context: StorageContext
): Either.Either<{ readonly storage: Storage; readonly registry: Registry }, ConfigError.ConfigError> =>
  Either.gen(function*() {
    const { directory, expiry, redis, sync } = context
    const choice = Option.getOrElse(raw.registry, () => (Option.isSome(redis) ? "redis" as const : "filesystem" as const))
    const registry: Registry = choice === "memory"
      ? Registry.memory()
      : choice === "filesystem"
      ? Registry.filesystem({ directory, sync })
      : yield* Option.match(redis, {
        onNone: () => invalid("UPLOAD_REGISTRY", `REDIS_URL to be set for "redis"`, choice),
        onSome: (redis) => Either.right(Registry.redis({ redis, expiry }))
      })
    switch (raw.storage) {
      case "filesystem":
        return { storage: Storage.filesystem({ directory, sync }), registry }
      case "memory":
        return { storage: Storage.memory(), registry }
      case "s3": {
        const settings = yield* s3Settings(raw.s3)
        const maxMib = s3MaxFileMib(settings.partSize)
        if (context.maxFileBytes > maxMib * MiB) {
          const why = maxMib === S3_MAX_OBJECT_MIB
            ? "S3's largest object, 5 TiB"
            : `${S3_MAX_PARTS} parts of S3_PART_SIZE=${settings.partSize} bytes; a larger S3_PART_SIZE allows more`
          return yield* invalid("FILE_MAX_SIZE", `at most ${maxMib} MiB with STORAGE=s3 (${why})`, context.maxFileBytes / MiB)
        }
        return { storage: Storage.s3({ settings }), registry }
      }
    }
  })
