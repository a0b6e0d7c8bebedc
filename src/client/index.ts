/**
 * The file-receiver client library, for browsers and Node alike: no Node-only
 * API here. Node callers use `./node.js`, which adds files, `ws` and node:crypto.
 */
export * from "./Errors.js"
export { createSha256, type Hasher } from "./Sha256.js"
export type { EventSocket, Reply, WebSocketConstructor, WebSocketLike } from "./Socket.js"
export { type BlobLike, fromBlob, fromStream, type ReadableStreamLike, type UploadSource } from "./Source.js"
export { type ReconnectInfo, upload, type UploadOptions, type UploadProgress, type UploadResult } from "./Upload.js"
