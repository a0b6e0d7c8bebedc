/**
 * AppConfig read from a map of environment variables: the defaults, the
 * accepted spellings, and a start-up error that names the variable and value.
 */
import { describe, expect, it } from "@effect/vitest"
import { ConfigError, ConfigProvider, Duration, Effect, LogLevel, Option, Redacted } from "effect"
import { availableParallelism } from "node:os"
import { AppConfig, formatConfigError } from "../../../src/adapters/config/AppConfig.js"
import { LogFormatConfig, LogLevelConfig } from "../../../src/adapters/config/LogConfig.js"

const withEnv = (entries: ReadonlyArray<readonly [string, string]>) =>
  Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries)))

/** Reads AppConfig with exactly these variables set. */
const read = (...entries: ReadonlyArray<readonly [string, string]>) => AppConfig.pipe(withEnv(entries))

/**
 * The formatted start-up error for these variables. Fails the test if the
 * config loads, with a short error: vitest never finishes printing a whole
 * AppConfig as a failure.
 */
const failure = (...entries: ReadonlyArray<readonly [string, string]>) =>
  read(...entries).pipe(
    Effect.flatMap(() => Effect.die(new Error(`the configuration loaded with ${JSON.stringify(entries)}`))),
    Effect.flip,
    Effect.map((error) => (ConfigError.isConfigError(error) ? formatConfigError(error) : error.message))
  )

/** The S3 settings of a configuration with STORAGE=s3. */
const s3Settings = (config: AppConfig) => {
  if (config.storage._tag !== "s3") throw new Error(`expected STORAGE=s3, got ${config.storage._tag}`)
  return config.storage.settings
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/** `value` appears in `message` as a whole, not inside a longer number or word. */
const mentions = (message: string, value: string): boolean =>
  new RegExp(`(^|[^\\w.-])${escapeRegExp(value)}($|[^\\w.-])`).test(message)

describe("AppConfig", () => {
  it.effect("reads the documented defaults from an empty environment", () =>
    Effect.gen(function*() {
      const config = yield* read()
      expect(config.transport.host).toBe("127.0.0.1")
      expect(config.transport.port).toBe(8000)
      expect(config.upload.maxFileBytes).toBe(20971520)
      expect(config.upload.allowedExtensions).toEqual(["txt", "pdf", "png", "jpg", "jpeg", "gif"])
      expect(config.saveDirectory).toBe("uploaded_files")
      expect(config.session.rateLimit).toMatchObject({ limit: 1000, window: Duration.seconds(60) })
      expect(Option.isNone(config.redis)).toBe(true)
    }))

  it.effect("defaults the log level to Info and the chunk limit to 1 MiB", () =>
    Effect.gen(function*() {
      expect(yield* LogLevelConfig.pipe(withEnv([]))).toEqual(LogLevel.Info)
      expect((yield* read()).upload.maxChunkBytes).toBe(1048576)
    }))

  it.effect("reads each variable when it is set", () =>
    Effect.gen(function*() {
      const config = yield* read(
        ["HOST", "0.0.0.0"],
        ["PORT", "0"],
        ["FILE_SAVE_DIRECTORY", "/tmp/up"],
        ["FILE_MAX_SIZE", "3"],
        ["MAX_CHUNK_BYTES", "4096"],
        ["REDIS_URL", "redis://127.0.0.1:6379"],
        ["REDIS_KEY_PREFIX", "fr"],
        ["RATE_LIMIT_KEY_PREFIX", "rl"],
        ["RATE_LIMIT_PERIOD", "10"],
        ["RATE_LIMIT_PER_PERIOD", "5"],
        ["SHUTDOWN_GRACE", "3"],
        ["HEARTBEAT_INTERVAL", "7"],
        ["UPLOAD_EXPIRY", "120"]
      )
      expect(config.transport).toMatchObject({ host: "0.0.0.0", port: 0, closeGraceMillis: 3000, heartbeatMillis: 7000 })
      expect(yield* LogLevelConfig.pipe(withEnv([["LOG_LEVEL", "Debug"]]))).toEqual(LogLevel.Debug)
      expect(config.saveDirectory).toBe("/tmp/up")
      expect(config.upload).toMatchObject({ maxFileBytes: 3 * 1024 * 1024, maxChunkBytes: 4096 })
      expect(config.session.rateLimit).toMatchObject({ limit: 5, window: Duration.seconds(10) })
      expect(Option.map(config.redis, ({ keyPrefix, rateLimitKeyPrefix }) => ({ keyPrefix, rateLimitKeyPrefix })))
        .toEqual(Option.some({ keyPrefix: "fr", rateLimitKeyPrefix: "rl" }))
      expect(config.uploadExpiry).toEqual(Duration.seconds(120))
    }))

  it.effect("sizes the largest frame accepted for a chunk of MAX_CHUNK_BYTES in base64 inside JSON", () =>
    Effect.gen(function*() {
      const { transport } = yield* read(["MAX_CHUNK_BYTES", "3000"])
      expect(transport.maxPayload).toBe(4000 * 2 + 4096)
    }))

  it.effect("reads FILE_ALLOWED_EXTENSIONS as a comma list, lower-cased, dots and spaces dropped", () =>
    Effect.gen(function*() {
      const config = yield* read(["FILE_ALLOWED_EXTENSIONS", "TXT, .pdf"])
      expect(config.upload.allowedExtensions).toEqual(["txt", "pdf"])
    }))

  it.effect("reads FILE_ALLOWED_EXTENSIONS as a JSON list", () =>
    Effect.gen(function*() {
      const config = yield* read(["FILE_ALLOWED_EXTENSIONS", "[\"txt\", \"pdf\"]"])
      expect(config.upload.allowedExtensions).toEqual(["txt", "pdf"])
    }))

  it.effect("checks content, keeps 64 MiB free and hashes every upload by default; CONTENT_CHECK=off, MIN_FREE_DISK_MB and INTEGRITY change that", () =>
    Effect.gen(function*() {
      const defaults = yield* read()
      expect(defaults.session.checks).toEqual({ contentCheck: true, minFreeBytes: 64 * 1024 * 1024, integrity: "sha256" })
      const set = yield* read(["CONTENT_CHECK", "off"], ["MIN_FREE_DISK_MB", "0"], ["INTEGRITY", "requested"])
      expect(set.session.checks).toEqual({ contentCheck: false, minFreeBytes: 0, integrity: "requested" })
    }))

  it.effect("treats an empty REDIS_URL as no Redis", () =>
    Effect.gen(function*() {
      const config = yield* read(["REDIS_URL", ""])
      expect(Option.isNone(config.redis)).toBe(true)
    }))

  it.effect("reads a set REDIS_URL as a redacted secret", () =>
    Effect.gen(function*() {
      const config = yield* read(["REDIS_URL", "redis://:secret@localhost:6379"])
      expect(Option.map(config.redis, ({ url }) => Redacted.value(url))).toEqual(Option.some("redis://:secret@localhost:6379"))
      expect(String(Option.map(config.redis, ({ url }) => url))).not.toContain("secret")
    }))

  it.effect("reads LOG_LEVEL in any case, with warn and warning both meaning Warning", () =>
    Effect.gen(function*() {
      for (const [text, label] of [["warning", "WARN"], ["WARN", "WARN"], ["Debug", "DEBUG"], ["none", "OFF"]] as const) {
        const level = yield* LogLevelConfig.pipe(withEnv([["LOG_LEVEL", text]]))
        expect(level.label).toBe(label)
      }
    }))

  const badValues: ReadonlyArray<readonly [string, string]> = [
    ["PORT", "abc"],
    ["PORT", "70000"],
    ["PORT", "-1"],
    ["PORT", "0x1F40"],
    ["FILE_MAX_SIZE", "1e1"],
    ["HOST", ""],
    ["RATE_LIMIT_KEY_PREFIX", ""],
    ["FILE_SAVE_DIRECTORY", " "],
    ["FILE_MAX_SIZE", "-1"],
    ["FILE_MAX_SIZE", "1.5"],
    ["MAX_CHUNK_BYTES", "0"],
    ["RATE_LIMIT_PERIOD", "0"],
    ["RATE_LIMIT_PER_PERIOD", "ten"],
    ["FILE_ALLOWED_EXTENSIONS", "txt,,pdf"],
    ["FILE_ALLOWED_EXTENSIONS", "[\"txt\", 5]"],
    ["FILE_ALLOWED_EXTENSIONS", "["],
    ["CONTENT_CHECK", "maybe"],
    ["SYNC_UPLOADS", "sometimes"],
    ["UPLOAD_REGISTRY", "disk"],
    ["MIN_FREE_DISK_MB", "-5"],
    ["STARTUP_TIMEOUT", "0"],
    ["DIGEST_THREADS", "many"],
    ["DIGEST_THREADS", "65"],
    ["INTEGRITY", "none"]
  ]

  it.effect("refuses LOG_LEVEL=loud, listing the levels", () =>
    Effect.gen(function*() {
      expect(yield* LogLevelConfig.pipe(withEnv([["LOG_LEVEL", "loud"]]), Effect.flip, Effect.map(formatConfigError)))
        .toBe(`LOG_LEVEL: expected all, trace, debug, info, warn, warning, error, fatal, none, got "loud"`)
    }))

  for (const [name, value] of badValues) {
    it.effect(`refuses ${name}=${value} with a message naming the variable and the value`, () =>
      Effect.gen(function*() {
        const message = yield* failure([name, value])
        expect(message.startsWith(`${name}:`), message).toBe(true)
        expect(mentions(message, value), `${message} should contain ${value}`).toBe(true)
      }))
  }

  it.effect("says what a bad number counts: MiB for FILE_MAX_SIZE and MIN_FREE_DISK_MB, bytes, seconds or milliseconds for others", () =>
    Effect.gen(function*() {
      expect(yield* failure(["FILE_MAX_SIZE", "abc"])).toBe(`FILE_MAX_SIZE: expected a whole number of MiB from 0 to ${Math.floor(Number.MAX_SAFE_INTEGER / 1048576)}, got "abc"`)
      expect(yield* failure(["MIN_FREE_DISK_MB", "lots"])).toMatch(/^MIN_FREE_DISK_MB: expected a whole number of MiB from 0 to \d+, got "lots"$/)
      expect(yield* failure(["MAX_CHUNK_BYTES", "1k"])).toMatch(/^MAX_CHUNK_BYTES: expected a whole number of bytes from 1 to /)
      expect(yield* failure(["UPLOAD_EXPIRY", "1d"])).toMatch(/^UPLOAD_EXPIRY: expected a whole number of seconds from 1 to /)
      expect(yield* failure(["STARTUP_TIMEOUT", "30s"])).toMatch(/^STARTUP_TIMEOUT: expected a whole number of seconds from 1 to 3600, got "30s"$/)
      expect(yield* failure(["IDLE_TIMEOUT", "10m"])).toMatch(/^IDLE_TIMEOUT: expected a whole number of seconds from 0 to /)
      expect(yield* failure(["WEBHOOK_RETRY_BASE_MS", "1s"])).toMatch(/^WEBHOOK_RETRY_BASE_MS: expected a whole number of milliseconds from 1 to /)
      // Files past 5 GiB are fine on S3 (copied in parts); a file is at most 10,000 parts.
      expect((yield* read(["STORAGE", "s3"], ["S3_BUCKET", "bkt"], ["FILE_MAX_SIZE", "6000"])).upload.maxFileBytes).toBe(6000 * 1048576)
      expect(yield* failure(["STORAGE", "s3"], ["S3_BUCKET", "bkt"], ["FILE_MAX_SIZE", "80001"]))
        .toBe(`FILE_MAX_SIZE: expected at most 80000 MiB with STORAGE=s3 (10000 parts of S3_PART_SIZE=8388608 bytes; a larger S3_PART_SIZE allows more), got "80001"`)
    }))

  it.effect("hashes on cores - 1 threads, at most 4, by default (DIGEST_THREADS=auto); a number, 0 included, is taken as it is", () =>
    Effect.gen(function*() {
      const auto = Math.max(0, Math.min(4, availableParallelism() - 1))
      expect((yield* read()).digestThreads).toBe(auto)
      expect((yield* read(["DIGEST_THREADS", " Auto "])).digestThreads).toBe(auto)
      expect((yield* read(["DIGEST_THREADS", "0"])).digestThreads).toBe(0)
      expect((yield* read(["DIGEST_THREADS", "8"])).digestThreads).toBe(8)
    }))

  it.effect("gives start-up 30 seconds by default (STARTUP_TIMEOUT)", () =>
    Effect.gen(function*() {
      expect((yield* read()).startupTimeout).toEqual(Duration.seconds(30))
      expect((yield* read(["STARTUP_TIMEOUT", "5"])).startupTimeout).toEqual(Duration.seconds(5))
    }))

  it.effect("reads choices in any case and without surrounding blanks: STORAGE, UPLOAD_REGISTRY, CONTENT_CHECK, SYNC_UPLOADS, LOG_FORMAT, PRE_UPLOAD_HOOK_FAIL_OPEN", () =>
    Effect.gen(function*() {
      expect((yield* read(["STORAGE", " S3 "], ["S3_BUCKET", "bkt"])).storage._tag).toBe("s3")
      expect((yield* read(["STORAGE", "Memory"])).storage._tag).toBe("memory")
      expect((yield* read(["UPLOAD_REGISTRY", "MEMORY"])).registry._tag).toBe("memory")
      const switches = yield* read(["CONTENT_CHECK", "OFF"], ["SYNC_UPLOADS", " Off"])
      expect([switches.session.checks.contentCheck, switches.storage]).toEqual([false, { _tag: "filesystem", directory: "uploaded_files", sync: false }])
      expect(yield* LogFormatConfig.pipe(withEnv([["LOG_FORMAT", "JSON"]]))).toBe("json")
      const hooked = yield* read(["PRE_UPLOAD_HOOK_URL", "http://hook.test/"], ["PRE_UPLOAD_HOOK_FAIL_OPEN", "TRUE"])
      expect(Option.map(hooked.events.preUploadHook, (hook) => hook.failOpen)).toEqual(Option.some(true))
    }))

  it.effect("lists the allowed values when a choice is none of them", () =>
    Effect.gen(function*() {
      expect(yield* failure(["STORAGE", "disk"])).toBe(`STORAGE: expected one of filesystem, s3, memory, got "disk"`)
      expect(yield* failure(["UPLOAD_REGISTRY", "Disk"])).toBe(`UPLOAD_REGISTRY: expected one of memory, filesystem, redis, got "Disk"`)
      expect(yield* failure(["CONTENT_CHECK", "yes please"])).toBe(`CONTENT_CHECK: expected one of on, off, got "yes please"`)
      expect(yield* LogFormatConfig.pipe(withEnv([["LOG_FORMAT", "xml"]]), Effect.flip, Effect.map(formatConfigError)))
        .toBe(`LOG_FORMAT: expected one of logfmt, json, pretty, got "xml"`)
    }))

  it.effect("treats an empty UPLOAD_REGISTRY and empty AWS keys as unset (a compose file may pass them empty)", () =>
    Effect.gen(function*() {
      expect((yield* read(["UPLOAD_REGISTRY", ""])).registry._tag).toBe("filesystem")
      const s3 = s3Settings(yield* read(
        ["STORAGE", "s3"],
        ["S3_BUCKET", "bkt"],
        ["AWS_ACCESS_KEY_ID", ""],
        ["AWS_SECRET_ACCESS_KEY", ""],
        ["AWS_SESSION_TOKEN", ""]
      ))
      expect(s3.credentials).toBeUndefined()
    }))

  it.effect("refuses an empty PORT instead of falling back to the default", () =>
    Effect.gen(function*() {
      const message = yield* failure(["PORT", ""])
      expect(message.startsWith("PORT:"), message).toBe(true)
    }))

  it.effect("refuses an empty FILE_ALLOWED_EXTENSIONS instead of allowing nothing", () =>
    Effect.gen(function*() {
      const message = yield* failure(["FILE_ALLOWED_EXTENSIONS", ""])
      expect(message.startsWith("FILE_ALLOWED_EXTENSIONS:"), message).toBe(true)
    }))

  describe("UPLOAD_REGISTRY", () => {
    it.effect("defaults to sidecar files in the save directory without Redis, and to Redis with REDIS_URL, records kept for UPLOAD_EXPIRY", () =>
      Effect.gen(function*() {
        expect((yield* read(["FILE_SAVE_DIRECTORY", "/srv/files"], ["SYNC_UPLOADS", "off"])).registry)
          .toEqual({ _tag: "filesystem", directory: "/srv/files", sync: false })
        const shared = yield* read(["REDIS_URL", "redis://127.0.0.1:6379"], ["UPLOAD_EXPIRY", "60"])
        expect(shared.registry._tag).toBe("redis")
        if (shared.registry._tag !== "redis") return
        expect(shared.registry.expiry).toEqual(Duration.seconds(60))
        // The registry uses the one Redis connection the configuration describes.
        expect(Option.some(shared.registry.redis)).toEqual(shared.redis)
        expect((yield* read(["REDIS_URL", "redis://127.0.0.1:6379"], ["UPLOAD_REGISTRY", "filesystem"])).registry._tag).toBe("filesystem")
      }))

    it.effect("refuses UPLOAD_REGISTRY=redis without REDIS_URL", () =>
      Effect.gen(function*() {
        expect(yield* failure(["UPLOAD_REGISTRY", "redis"])).toBe(`UPLOAD_REGISTRY: expected REDIS_URL to be set for "redis", got "redis"`)
      }))
  })

  describe("STORAGE", () => {
    const s3 = (...entries: ReadonlyArray<readonly [string, string]>) => read(["STORAGE", "s3"], ["S3_BUCKET", "uploads"], ...entries)

    it.effect("defaults to the filesystem in FILE_SAVE_DIRECTORY, synced, and ignores S3 settings unless STORAGE=s3", () =>
      Effect.gen(function*() {
        const config = yield* read(["S3_PART_SIZE", "not a number"], ["FILE_SAVE_DIRECTORY", "/srv/files"])
        expect(config.storage).toEqual({ _tag: "filesystem", directory: "/srv/files", sync: true })
        expect((yield* read(["STORAGE", "memory"])).storage).toEqual({ _tag: "memory" })
      }))

    it.effect("reads the S3 defaults: AWS's us-east-1, no endpoint, no prefix, virtual-hosted style, 8 MiB parts, the SDK's credential chain", () =>
      Effect.gen(function*() {
        const config = s3Settings(yield* s3())
        expect(config).toMatchObject({ bucket: "uploads", region: "us-east-1", prefix: "", forcePathStyle: false, partSize: 8 * 1024 * 1024, partConcurrency: 4 })
        expect(config.endpoint).toBeUndefined()
        expect(config.credentials).toBeUndefined()
      }))

    it.effect("reads every S3 setting, ending the prefix with a slash and keeping the keys redacted", () =>
      Effect.gen(function*() {
        const config = s3Settings(yield* s3(
          ["S3_ENDPOINT", "http://minio:9000"],
          ["S3_REGION", "eu-west-3"],
          ["S3_PREFIX", "team/files"],
          ["S3_FORCE_PATH_STYLE", "true"],
          ["S3_PART_SIZE", "16777216"],
          ["S3_PART_CONCURRENCY", "8"],
          ["AWS_ACCESS_KEY_ID", "minioadmin"],
          ["AWS_SECRET_ACCESS_KEY", "minio-secret"]
        ))
        expect(config).toMatchObject({ region: "eu-west-3", prefix: "team/files/", forcePathStyle: true, partSize: 16777216, partConcurrency: 8 })
        expect(config.endpoint).toBe("http://minio:9000")
        const keys = config.credentials!
        expect(Redacted.value(keys.secretAccessKey)).toBe("minio-secret")
        expect(String(keys.secretAccessKey)).not.toContain("minio-secret")
      }))

    const badS3: ReadonlyArray<readonly [string, string]> = [
      ["STORAGE", "disk"],
      ["S3_PART_SIZE", "1048576"],
      ["S3_ENDPOINT", "minio:9000"],
      ["S3_FORCE_PATH_STYLE", "maybe"],
      ["S3_BUCKET", "Not_A_Bucket"]
    ]
    for (const [name, value] of badS3) {
      it.effect(`refuses ${name}=${value} with STORAGE=s3, naming the variable and the value`, () =>
        Effect.gen(function*() {
          const message = yield* failure(["STORAGE", "s3"], ["S3_BUCKET", "uploads"], [name, value])
          expect(message.startsWith(`${name}:`), message).toBe(true)
          expect(mentions(message, value), `${message} should contain ${value}`).toBe(true)
        }))
    }

    it.effect("needs S3_BUCKET, both access keys or neither, and files of at most 10,000 parts (S3_PART_SIZE each) with STORAGE=s3", () =>
      Effect.gen(function*() {
        expect(yield* failure(["STORAGE", "s3"])).toMatch(/^S3_BUCKET:/)
        expect(yield* failure(["STORAGE", "s3"], ["S3_BUCKET", "bkt"], ["AWS_ACCESS_KEY_ID", "id"])).toMatch(/^AWS_SECRET_ACCESS_KEY:/)
        expect(yield* failure(["STORAGE", "s3"], ["S3_BUCKET", "bkt"], ["FILE_MAX_SIZE", "100000"])).toMatch(/^FILE_MAX_SIZE:.*100000/)
        // Parts of 1 GiB: 5 TiB, S3's largest object.
        expect(yield* failure(["STORAGE", "s3"], ["S3_BUCKET", "bkt"], ["S3_PART_SIZE", String(1024 ** 3)], ["FILE_MAX_SIZE", "6000000"]))
          .toMatch(/^FILE_MAX_SIZE: expected at most 5242880 MiB with STORAGE=s3 \(S3's largest object, 5 TiB\)/)
      }))
  })
})
