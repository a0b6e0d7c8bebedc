/**
 * Where files and upload records go, picked from the configuration's
 * tagged unions: the FileStore (with its readiness probe, and free-space
 * checks where there is a disk) and the UploadRegistry. The AWS SDK and
 * ioredis are loaded only when chosen.
 */
import { Effect, Layer } from "effect"
import * as path from "node:path"
import { Registry, Storage } from "../adapters/config/StorageConfig.js"
import * as FsDiskSpace from "../adapters/fs/FsDiskSpace.js"
import * as FsFileStore from "../adapters/fs/FsFileStore.js"
import * as FsUploadRegistry from "../adapters/fs/FsUploadRegistry.js"
import * as MemoryFileStore from "../adapters/memory/MemoryFileStore.js"
import * as MemoryUploadRegistry from "../adapters/memory/MemoryUploadRegistry.js"
import type { RedisConnectionError } from "../adapters/redis/RedisClient.js"
import type { FileStore, FileStoreError } from "../application/ports/FileStore.js"
import { StorageProbe } from "../application/ports/Readiness.js"
import type { UploadRegistry, UploadRegistryError } from "../application/ports/UploadRegistry.js"
import * as RegistryFallback from "../application/resilience/RegistryFallback.js"
import * as Redis from "./Redis.js"

/** The FileStore and its probe; free space is a filesystem's notion, so only it gets a DiskSpace. */
export const fileStore = (storage: Storage): Layer.Layer<FileStore | StorageProbe, FileStoreError> =>
  Storage.$match(storage, {
    filesystem: ({ directory, sync }) =>
      Layer.mergeAll(FsFileStore.layer(directory, { sync }), Layer.succeed(StorageProbe, FsFileStore.probe(directory)), FsDiskSpace.layer(directory)),
    s3: ({ settings }) =>
      Layer.unwrapEffect(Effect.map(Effect.promise(() => import("../adapters/s3/S3FileStore.js")), (S3FileStore) => S3FileStore.layer(settings))),
    memory: () => Layer.merge(MemoryFileStore.layerMemory, Layer.succeed(StorageProbe, { name: "storage", check: Effect.void }))
  })

export const uploadRegistry = (registry: Registry): Layer.Layer<UploadRegistry, UploadRegistryError | RedisConnectionError> =>
  Registry.$match(registry, {
    memory: () => MemoryUploadRegistry.layerMemory,
    filesystem: ({ directory, sync }) => FsUploadRegistry.layer(directory, { sync }),
    // A Redis outage must not stop new uploads: they are recorded on this instance meanwhile.
    redis: ({ expiry, redis }) =>
      RegistryFallback.layer(
        Redis.lazy(() => import("../adapters/redis/RedisUploadRegistry.js"), (RedisUploadRegistry) =>
          RedisUploadRegistry.layer({ prefix: redis.keyPrefix, expiry })),
        MemoryUploadRegistry.layerMemory
      ).pipe(Redis.onClient(redis))
  })

type Locate = (storedName: string) => string | undefined

/** Where a stored file lives, for upload events: a path, an s3:// URL, or nothing (memory). */
export const locate = (storage: Storage): Locate =>
  Storage.$match(storage, {
    filesystem: ({ directory }): Locate => {
      const root = path.resolve(directory)
      return (storedName) => path.join(root, storedName)
    },
    s3: ({ settings }): Locate => (storedName) => `s3://${settings.bucket}/${settings.prefix}${storedName}`,
    memory: (): Locate => () => undefined
  })
