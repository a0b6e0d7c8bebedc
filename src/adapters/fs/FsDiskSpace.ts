/**
 * DiskSpace of the filesystem holding a directory, read with statfs(2).
 */
import { Effect, Layer } from "effect"
import * as path from "node:path"
import * as fs from "./FsCalls.js"
import { DiskSpace, DiskSpaceError } from "../../application/ports/DiskSpace.js"

export const make = (directory: string) =>
  DiskSpace.of({
    available: Effect.tryPromise({
      try: async () => {
        const stats = await fs.statfs(path.resolve(directory))
        return stats.bavail * stats.bsize
      },
      catch: (cause) => new DiskSpaceError({ reason: "Stat", cause })
    })
  })

/** The free space of the filesystem that holds `directory`. */
export const layer = (directory: string): Layer.Layer<DiskSpace> => Layer.succeed(DiskSpace, make(directory))
