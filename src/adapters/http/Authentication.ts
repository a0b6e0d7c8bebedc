/**
 * Optional bearer-token authentication of upload connections (AUTH_TOKENS,
 * AUTH_TOKENS_FILE). Each token may carry a label (`label:token`) that logs
 * use to name who connected; the token itself is never logged. A client
 * presents its token in an `Authorization: Bearer` header, or (browsers
 * cannot set headers on a WebSocket) in a `token` query parameter. Tokens
 * are compared in constant time, over their SHA-256 digests.
 */
import { Either, Option } from "effect"
import { createHash, timingSafeEqual } from "node:crypto"

export interface Token {
  /** Who holds the token: the label given with it, or `token-<n>` (its position). */
  readonly label: string
  readonly digest: Buffer
}

/** Tokens shorter than this are refused at start-up: they could be guessed. */
export const MIN_TOKEN_LENGTH = 16

const LABELLED = /^([A-Za-z0-9_.@-]+):(.+)$/

const digest = (token: string): Buffer => createHash("sha256").update(token, "utf8").digest()

/**
 * Parses tokens, one per entry (comma-separated in AUTH_TOKENS, one per line
 * in AUTH_TOKENS_FILE, where blank lines and `#` comments are skipped).
 * An entry is `label:token` or a bare token. The error never quotes a token.
 */
export const parseTokens = (entries: ReadonlyArray<string>): Either.Either<ReadonlyArray<Token>, string> => {
  const tokens: Array<Token> = []
  const labels = new Set<string>()
  for (const [index, raw] of entries.entries()) {
    const entry = raw.trim()
    const labelled = LABELLED.exec(entry)
    const label = labelled?.[1] ?? `token-${index + 1}`
    const token = (labelled?.[2] ?? entry).trim()
    if (token.length < MIN_TOKEN_LENGTH) {
      return Either.left(`tokens of at least ${MIN_TOKEN_LENGTH} characters (entry ${index + 1} is shorter)`)
    }
    if (labels.has(label)) return Either.left(`distinct labels (${label} appears twice)`)
    labels.add(label)
    tokens.push({ label, digest: digest(token) })
  }
  return tokens.length === 0 ? Either.left("at least one token") : Either.right(tokens)
}

/** The lines of a tokens file that hold entries. */
export const fileEntries = (text: string): ReadonlyArray<string> =>
  text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("#"))

/** The label of the token `presented` matches, compared in constant time against every token. */
export const authenticate = (tokens: ReadonlyArray<Token>, presented: string | undefined): Option.Option<string> => {
  if (presented === undefined || presented === "") return Option.none()
  const candidate = digest(presented)
  let match: string | undefined
  for (const token of tokens) {
    // No early exit: every token is compared, so timing does not tell which one (if any) matched.
    if (timingSafeEqual(candidate, token.digest) && match === undefined) match = token.label
  }
  return Option.fromNullable(match)
}

/** The token a handshake presents: `Authorization: Bearer <token>`, else the `token` query parameter. */
export const presented = (authorization: string | undefined, url: string | undefined): string | undefined => {
  const bearer = authorization === undefined ? undefined : /^Bearer\s+(\S+)\s*$/i.exec(authorization)?.[1]
  if (bearer !== undefined) return bearer
  const query = (url ?? "").split("?", 2)[1]
  return query === undefined ? undefined : new URLSearchParams(query).get("token") ?? undefined
}
