/**
 * The bearer tokens, from AUTH_TOKENS (comma-separated) and the file
 * AUTH_TOKENS_FILE names (one per line), merged into one list while the
 * configuration is decoded. Tokens are secrets: they stay Redacted and no
 * error quotes one.
 */
import { Config, ConfigError, Data, Effect, Either, Option, Redacted } from "effect"
import * as fs from "node:fs/promises"
import * as Authentication from "../http/Authentication.js"

export type Tokens = Redacted.Redacted<ReadonlyArray<Authentication.Token>>

/** Where tokens come from, as configured; the file is read by `load`. */
export interface TokenSources {
  readonly inline: Option.Option<Tokens>
  readonly file: Option.Option<string>
}

export const TokenSources: Config.Config<TokenSources> = Config.all({
  inline: Config.option(Config.redacted("AUTH_TOKENS")).pipe(
    Config.mapOrFail(Option.match({
      onNone: () => Either.right(Option.none()),
      onSome: (text) =>
        Redacted.value(text).trim() === ""
          ? Either.right(Option.none())
          : Either.map(
            Either.mapLeft(
              Authentication.parseTokens(Redacted.value(text).split(",")),
              (expectation) => ConfigError.InvalidData(["AUTH_TOKENS"], `expected ${expectation}`)
            ),
            (tokens) => Option.some(Redacted.make(tokens))
          )
    }))
  ),
  file: Config.option(Config.string("AUTH_TOKENS_FILE")).pipe(Config.map(Option.filter((file) => file.trim() !== "")))
})

/** AUTH_TOKENS_FILE cannot be read, or holds something else than tokens. */
export class AuthTokensFileError extends Data.TaggedError("AuthTokensFileError")<{ readonly message: string }> {}

/** The tokens of both sources together; None when authentication is off (neither is set). */
export const load = (sources: TokenSources): Effect.Effect<Option.Option<Tokens>, AuthTokensFileError> =>
  Option.match(sources.file, {
    onNone: () => Effect.succeed(sources.inline),
    onSome: (file) =>
      Effect.tryPromise({
        try: () => fs.readFile(file, "utf8"),
        catch: (cause) =>
          new AuthTokensFileError({ message: `AUTH_TOKENS_FILE: cannot read ${file}: ${cause instanceof Error ? cause.message : String(cause)}` })
      }).pipe(
        Effect.flatMap((text) =>
          Either.match(Authentication.parseTokens(Authentication.fileEntries(text)), {
            onLeft: (expectation) => Effect.fail(new AuthTokensFileError({ message: `AUTH_TOKENS_FILE: expected ${expectation} in ${file}` })),
            onRight: (fromFile) =>
              Effect.succeed(Option.some(Redacted.make([...Option.match(sources.inline, { onNone: () => [], onSome: Redacted.value }), ...fromFile])))
          })
        )
      )
  })
