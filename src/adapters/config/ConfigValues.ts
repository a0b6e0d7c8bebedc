/**
 * The value readers every configuration module shares: a bad value fails
 * with a ConfigError naming the variable, what was expected and what was given.
 */
import { Config, ConfigError, Either } from "effect"

/** The failure for variable `name`: `expected <expectation>, got "<value>"`. */
export const invalid = (name: string, expectation: string, value: unknown) =>
  Either.left(ConfigError.InvalidData([name], `expected ${expectation}, got "${String(value)}"`))

/** `text` as an integer within [min, max]. */
export const parseIntegerBetween = (name: string, min: number, max: number, text: string) => {
  const value = Number(text.trim())
  return /^\d+$/.test(text.trim()) && Number.isSafeInteger(value) && value >= min && value <= max
    ? Either.right(value)
    : invalid(name, `an integer from ${min} to ${max}`, text)
}

/** An integer variable within [min, max], `fallback` when unset. */
export const integerBetween = (name: string, min: number, max: number, fallback: number): Config.Config<number> =>
  Config.string(name).pipe(
    Config.withDefault(String(fallback)),
    Config.mapOrFail((text) => parseIntegerBetween(name, min, max, text))
  )
