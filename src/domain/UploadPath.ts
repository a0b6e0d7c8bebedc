/**
 * Where clients open the upload WebSocket: the one place the path is
 * written. The server, `/config.json`, the page and the clients' defaults
 * use it. No imports, so the page bundle can take it without server code.
 */

/** The upload endpoint's path (the server also accepts it without the trailing slash). */
export const UPLOAD_PATH = "/ws/file-transfer/"
