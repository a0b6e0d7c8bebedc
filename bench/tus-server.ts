/**
 * The benchmark's peer: tus-node-server (`@tus/server` with `@tus/file-store`)
 * as shipped, on a plain Node HTTP server, uploads under /files.
 *
 * Run as a child process by the bench: PORT (0 = any), HOST,
 * FILE_SAVE_DIRECTORY; prints "listening on http://host:port".
 */
import { FileStore } from "@tus/file-store"
import { Server } from "@tus/server"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as path from "node:path"

const host = process.env["HOST"] ?? "127.0.0.1"
const port = Number(process.env["PORT"] ?? "0")
const directory = path.resolve(process.env["FILE_SAVE_DIRECTORY"] ?? "uploaded_files")

const tus = new Server({ path: "/files", datastore: new FileStore({ directory }) })

const server = http.createServer((request, response) => {
  tus.handle(request, response).catch((cause: unknown) => {
    console.error("tus request failed:", cause)
    if (!response.headersSent) response.writeHead(500)
    response.end()
  })
})

server.listen(port, host, () => {
  console.log(`listening on http://${host}:${(server.address() as AddressInfo).port}`)
})

// Exit cleanly on SIGTERM (the bench stops servers this way; lets --cpu-prof write its profile).
process.on("SIGTERM", () => process.exit(0))
