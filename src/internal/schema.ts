import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as AST from "effect/SchemaAST"
import { describeDuration, readDuration } from "../core/internal/duration.js"
import { nearest } from "../core/internal/spelling.js"
import { InvalidOptions } from "./options.js"

/**
 * Schemas and decoding shared by the options of every fleet piece, so each
 * refuses bad input the same way (the retry policy reads durations with the
 * same rules, in `duration.ts`, without Schema).
 *
 * @internal
 */
const isDurationInput = (u: unknown): u is Duration.DurationInput => Option.isSome(Duration.decodeUnknown(u))

/**
 * A non-negative duration, from any `DurationInput`.
 *
 * @internal
 */
export const NonNegativeDuration = Schema.transformOrFail(
  Schema.declare(isDurationInput, { identifier: "DurationInput", description: describeDuration }),
  Schema.DurationFromSelf,
  {
    strict: true,
    decode: (input, _, ast) => {
      const read = readDuration(input)
      return "problem" in read
        ? ParseResult.fail(new ParseResult.Type(ast, input, read.problem))
        : ParseResult.succeed(read.duration)
    },
    encode: ParseResult.succeed
  }
)

/** @internal */
export const FiniteDuration = NonNegativeDuration.pipe(
  Schema.filter((d) => Duration.isFinite(d) || "expected a finite duration")
)

/** @internal */
export const PositiveDuration = NonNegativeDuration.pipe(
  Schema.filter((d) => Duration.greaterThan(d, Duration.zero) || "expected a positive duration")
)

/** @internal */
export const PositiveFiniteDuration = FiniteDuration.pipe(
  Schema.filter((d) => Duration.greaterThan(d, Duration.zero) || "expected a positive duration")
)

/** A finite number within bounds, with one message that names them. @internal */
export const number = (bounds: {
  readonly min?: number
  readonly max?: number
  readonly exclusiveMin?: boolean
  readonly exclusiveMax?: boolean
  readonly int?: boolean
}) => {
  const { exclusiveMax = false, exclusiveMin = false, int = false, max, min } = bounds
  const wanted = [
    int ? "an integer" : "a finite number",
    min === undefined ? "" : `${exclusiveMin ? ">" : ">="} ${min}`,
    max === undefined ? "" : `${min === undefined ? "" : "and "}${exclusiveMax ? "<" : "<="} ${max}`
  ].filter((s) => s !== "").join(" ")
  return Schema.Number.pipe(
    Schema.filter((n) =>
      (Number.isFinite(n) && (!int || Number.isInteger(n)) &&
        (min === undefined || (exclusiveMin ? n > min : n >= min)) &&
        (max === undefined || (exclusiveMax ? n < max : n <= max))) || `expected ${wanted}, got ${n}`
    )
  )
}

/** An optional field with a default, given exactly (no `undefined`). @internal */
export const withDefault = <S extends Schema.Schema.Any>(schema: S, value: () => Schema.Schema.Type<S>) =>
  Schema.optionalWith(schema, { default: value, exact: true })

/**
 * A decoder that reports every issue with its path, in one message; unknown
 * keys are refused unless `excess` is `"ignore"`.
 *
 * @internal
 */
export const decoder = <A, I, E>(
  schema: Schema.Schema<A, I, never>,
  describe: string,
  error: (message: string, issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>) => E,
  excess: "error" | "ignore" = "error"
) => {
  const decode = Schema.decodeUnknownEither(schema, { errors: "all", onExcessProperty: excess })
  const names = AST.getPropertySignatures(Schema.encodedSchema(schema).ast).map((field) => String(field.name))
  return (input: unknown): Either.Either<A, E> =>
    Either.mapLeft(decode(input), (failure) => {
      // An unknown key is named with the one it most likely meant, as the retry policy names it.
      const issues = ParseResult.ArrayFormatter.formatErrorSync(failure).map((issue) => {
        const near = issue._tag === "Unexpected" && issue.path.length === 1
          ? nearest(String(issue.path[0]), names)
          : undefined
        return near === undefined ? issue : { ...issue, message: `unknown option; did you mean ${near}?` }
      })
      const listed = issues.map((issue) =>
        `${issue.path.length > 0 ? issue.path.join(".") : "(options)"}: ${issue.message}`
      )
      return error(`Invalid ${describe}: ${listed.join("; ")}`, issues)
    })
}

/**
 * Decodes the options of a fleet piece, throwing {@link InvalidOptions}: a
 * piece is configured once, where a bad value is a programming error to see
 * at start-up. Options already decoded (an instance of a `Schema.Class`) pass
 * as they are; none given are the defaults.
 *
 * @internal
 */
export const options = <A, I>(schema: Schema.Schema<A, I, never>, of: string) => {
  const decode = decoder(schema, `${of} options`, (message, issues) => new InvalidOptions({ of, message, issues }))
  return (input?: A | I): A =>
    input instanceof (schema as unknown as new(...args: ReadonlyArray<never>) => A)
      ? input
      : Either.getOrThrowWith(decode(input === undefined ? {} : input), identity)
}
