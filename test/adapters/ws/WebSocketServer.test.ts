/**
 * The transport's last resort: a defect (a bug) that escapes a connection's
 * session is logged with the connection's context, answered with the generic
 * internal_error reply, and ends that connection with 1011, never silently.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, HashMap, Layer, Logger } from "effect"
import { PublicConfig } from "../../../src/adapters/http/PublicConfig.js"
import * as MemoryConcurrencyLimiter from "../../../src/adapters/memory/MemoryConcurrencyLimiter.js"
import * as WebSocketServer from "../../../src/adapters/ws/WebSocketServer.js"
import { Readiness } from "../../../src/application/ports/Readiness.js"
import * as Connections from "../../../src/application/session/Connections.js"
import { UploadSession } from "../../../src/application/session/UploadSession.js"
import { connect } from "../../support/server.js"

/** A session whose every frame dies: a defect its own recovery did not catch. */
const dyingSession = Layer.succeed(
  UploadSession,
  UploadSession.of({
    open: () =>
      Effect.succeed({
        receive: () => Effect.die(new TypeError("bug in the session")),
        patience: Effect.succeedNone,
        timeout: Effect.succeed("closed" as const)
      })
  })
)

type Line = { readonly level: string; readonly message: string; readonly annotations: Record<string, unknown> }

const server = (lines: Array<Line>) =>
  WebSocketServer.layer({ host: "127.0.0.1", port: 0, maxPayload: 65_536 }).pipe(
    Layer.provide(Layer.mergeAll(
      Connections.layer({}).pipe(Layer.provide(Layer.merge(dyingSession, MemoryConcurrencyLimiter.layerMemory))),
      Layer.succeed(Readiness, []),
      Layer.succeed(PublicConfig, { maxFileBytes: 1024, maxChunkBytes: 256, allowedExtensions: ["txt"], authRequired: false })
    )),
    Layer.provide(Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ annotations, logLevel, message }) =>
        lines.push({ level: logLevel.label, message: String(message), annotations: Object.fromEntries(HashMap.toEntries(annotations)) })
      )
    ))
  )

describe("WebSocketServer", () => {
  it.scopedLive("a defect that escapes the session is logged, answered with internal_error, and closes with 1011", () =>
    Effect.gen(function*() {
      const lines: Array<Line> = []
      const { port } = Context.get(yield* Layer.build(server(lines)), WebSocketServer.ServerAddress)
      const client = yield* Effect.promise(() => connect(`ws://127.0.0.1:${port}/ws/file-transfer/`))
      client.send({ type: "cancel" })
      expect(yield* Effect.promise(() => client.next())).toEqual({
        type: "error",
        message: "Internal server error: the message could not be handled",
        code: "internal_error"
      })
      expect(yield* Effect.promise(() => client.closed)).toBe(WebSocketServer.CLOSE_INTERNAL_ERROR)
      const errors = lines.filter((line) => line.level === "ERROR")
      expect(errors.map((line) => line.message)).toEqual(["connection ended by a defect"])
      expect(errors[0]?.annotations).toMatchObject({ client: "127.0.0.1" })
      expect(String(errors[0]?.annotations["error"])).toContain("bug in the session")
    }))
})
