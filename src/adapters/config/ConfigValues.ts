/**
 * The value readers every configuration module shares: a bad value fails
 * with a ConfigError naming the variable, what was expected (with its unit)
 * and what was given. Words from a fixed list (choices, booleans) are read in
 * any case, without surrounding blanks.
 */
import { Config, ConfigError, Either, Option, Redacted } from "effect"

/** The failure for variable `name`: `expected <expectation>, got "<value>"`. */
export const invalid = (name: string, expectation: string, value: unknown) =>
  Either.left(ConfigError.InvalidData([name], `expected ${expectation}, got "${String(value)}"`))

/**
 * `text` as an integer within [min, max]. With a `unit` (MiB, seconds, ...),
 * the error says what the number counts: `a whole number of MiB from 0 to 10`.
 */
export const parseIntegerBetween = (name: string, min: number, max: number, text: string, unit?: string) => {
  const value = Number(text.trim())
  return /^\d+$/.test(text.trim()) && Number.isSafeInteger(value) && value >= min && value <= max
    ? Either.right(value)
    : invalid(name, `${unit === undefined ? "an integer" : `a whole number of ${unit}`} from ${min} to ${max}`, text)
}

/** An integer variable within [min, max], `fallback` when unset; `unit` names what it counts, for errors. */
export const integerBetween = (name: string, min: number, max: number, fallback: number, unit?: string): Config.Config<number> =>
  Config.string(name).pipe(
    Config.withDefault(String(fallback)),
    Config.mapOrFail((text) => parseIntegerBetween(name, min, max, text, unit))
  )

/** `text` as one of `choices`, in any case. */
export const parseChoice = <const A extends string>(name: string, choices: ReadonlyArray<A>, text: string): Either.Either<A, ConfigError.ConfigError> => {
  const found = choices.find((choice) => choice === text.trim().toLowerCase())
  return found === undefined ? invalid(name, `one of ${choices.join(", ")}`, text) : Either.right(found)
}

/** A variable with one of `choices` (lower case), read in any case; `fallback` when unset. */
export const oneOf = <const A extends string>(name: string, choices: ReadonlyArray<A>, fallback: NoInfer<A>): Config.Config<A> =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((text) => parseChoice(name, choices, text))
  )

const BOOLEANS: Record<string, boolean> = { true: true, yes: true, "1": true, on: true, false: false, no: false, "0": false, off: false }

/** `text` as true (true, yes, on, 1) or false (false, no, off, 0), in any case. */
export const parseBoolean = (name: string, text: string): Either.Either<boolean, ConfigError.ConfigError> => {
  const value = BOOLEANS[text.trim().toLowerCase()]
  return value === undefined ? invalid(name, "true or false", text) : Either.right(value)
}

/** A boolean variable (see parseBoolean), `fallback` when unset. */
export const booleanFlag = (name: string, fallback: boolean): Config.Config<boolean> =>
  Config.string(name).pipe(
    Config.withDefault(String(fallback)),
    Config.mapOrFail((text) => parseBoolean(name, text))
  )

/** An optional secret; empty counts as unset. */
export const optionalSecret = (name: string): Config.Config<Option.Option<Redacted.Redacted<string>>> =>
  Config.option(Config.redacted(name)).pipe(Config.map(Option.filter((secret) => Redacted.value(secret) !== "")))

/** A string variable that must not be blank, trimmed; `fallback` when unset. */
export const nonBlank = (name: string, fallback: string, expectation: string): Config.Config<string> =>
  Config.string(name).pipe(
    Config.withDefault(fallback),
    Config.mapOrFail((text) => (text.trim() === "" ? invalid(name, expectation, text) : Either.right(text.trim())))
  )

/** An on/off switch, in any case. */
export const onOff = (name: string, fallback: "on" | "off"): Config.Config<boolean> =>
  oneOf(name, ["on", "off"], fallback).pipe(Config.map((choice) => choice === "on"))

/** An optional string, trimmed; empty counts as unset. */
export const optionalString = (name: string): Config.Config<Option.Option<string>> =>
  Config.option(Config.string(name)).pipe(
    Config.map(Option.filter((text) => text.trim() !== "")),
    Config.map(Option.map((text) => text.trim()))
  )

/** A number where 0 turns the thing off: None then. */
export const offAtZero = (config: Config.Config<number>): Config.Config<Option.Option<number>> =>
  Config.map(config, (value) => (value === 0 ? Option.none() : Option.some(value)))

/** `{ [key]: value }` for Some, `{}` for None: spread into settings whose optional field means "off" when absent. */
export const ifSome = <const K extends string, A>(key: K, value: Option.Option<A>): { readonly [P in K]?: NoInfer<A> } =>
  Option.match(value, { onNone: () => ({}), onSome: (present) => ({ [key]: present }) as { readonly [P in K]: A } })
