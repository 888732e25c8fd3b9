/**
 * The error of options that failed validation, on both lines.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import { isRecord, unwrapLayer } from "../../internal/compat.js"
import type { InvalidRetryPolicy } from "../RetryPolicy.js"
import { nearest } from "./spelling.js"

/**
 * One problem with one option: its path (a dotted field is several keys), what kind of problem (`Type`,
 * `Unexpected`, `Missing`, ...), and what is wrong.
 *
 * @since 0.1.0
 */
export interface Issue {
  readonly _tag: string
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

/**
 * Options of a fleet piece or a layer that failed validation: which piece,
 * and each field with what was wrong with it.
 *
 * @since 0.1.0
 */
export class InvalidOptions extends Data.TaggedError("InvalidOptions")<{
  readonly of: string
  readonly message: string
  readonly issues: ReadonlyArray<Issue>
}> {}

/**
 * A build that reads its options with a validation that throws (`options`, `RetryPolicy.from`, `checked`, an
 * adapter's checks), as an Effect: the validation's error (`InvalidOptions`, `InvalidRetryPolicy`) in the error
 * channel, anything else a defect. Each line's `make`s and `layer`s read their options through it.
 *
 * @internal
 */
export const catching = <A, E, R, I>(build: () => Effect.Effect<A, E, R>): Effect.Effect<A, E | I, R> =>
  Effect.suspend((): Effect.Effect<A, E | I, R> => {
    try {
      return build()
    } catch (error) {
      return Predicate.isTagged(error, "InvalidOptions") || Predicate.isTagged(error, "InvalidRetryPolicy")
        ? Effect.fail(error as I)
        : Effect.die(error)
    }
  })

/**
 * The effect `build` returns, or a defect of what it throws: a combinator whose argument is invalid (its
 * `InvalidOptions`, from `optionFields.argument`) dies when it runs, on both lines alike.
 *
 * @internal
 */
export const orDefect = <A, E, R>(build: () => Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    try {
      return build()
    } catch (error) {
      return Effect.die(error)
    }
  })

/**
 * The options of a layer that holds services and functions (a budget, a breaker, `onRetry`), which no schema
 * describes: each key must be one of `fields` (an unknown one is named with the one it most likely meant), and
 * each field's check, given its value when set, returns what is wrong with it or `undefined`. Throws
 * {@link InvalidOptions} listing every problem; returns the options as they are.
 *
 * @internal
 */
export const checked = <A extends object>(
  of: string,
  input: A,
  fields: { readonly [K in keyof Required<A>]: (value: unknown) => string | undefined }
): A => {
  const issues: Array<Issue> = []
  if (!isRecord(input)) {
    issues.push({ _tag: "Type", path: [], message: `expected an object of options, got ${typeof input}` })
  } else {
    const names = Object.keys(fields)
    for (const [key, value] of Object.entries(input)) {
      const check = (fields as Record<string, (value: unknown) => string | undefined>)[key]
      if (check === undefined) {
        const near = nearest(key, names)
        issues.push({
          _tag: "Unexpected",
          path: [key],
          message: near === undefined
            ? `unknown option; expected one of ${names.join(", ")}`
            : `unknown option; did you mean ${near}?`
        })
      } else if (value !== undefined) {
        const problem = check(value)
        if (problem !== undefined) issues.push({ _tag: "Type", path: [key], message: problem })
      }
    }
  }
  if (issues.length === 0) return input
  throw new InvalidOptions({
    of,
    message: `Invalid ${of} options: ${
      issues.map((issue) => `${issue.path.join(".") || "(options)"}: ${issue.message}`).join("; ")
    }`,
    issues
  })
}

/** Checks for {@link checked}: any value, or one of a kind. @internal */
export const check = {
  any: (): undefined => undefined,
  function: (value: unknown) => typeof value === "function" ? undefined : `expected a function, got ${typeof value}`,
  string: (value: unknown) => typeof value === "string" ? undefined : `expected a string, got ${typeof value}`,
  secrets: (value: unknown) =>
    Array.isArray(value) && value.every(Redacted.isRedacted)
      ? undefined
      : "expected an array of Redacted values (Redacted.make(...))",
  oneOf: (...allowed: ReadonlyArray<string>) => (value: unknown) =>
    allowed.includes(value as string)
      ? undefined
      : `expected ${allowed.map((a) => JSON.stringify(a)).join(" or ")}, got ${
        typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : typeof value
      }`
} as const

/**
 * How every `make` and `layer` reads its options: inside the Effect it returns, so that a bad option fails the
 * Effect (a layer, when it is built) with {@link InvalidOptions} rather than throwing where it is called.
 *
 * @internal
 */
export const validated: <A, E, R>(build: () => Effect.Effect<A, E, R>) => Effect.Effect<A, E | InvalidOptions, R> =
  catching

/**
 * {@link validated}, for a build that also reads a retry policy.
 *
 * @internal
 */
export const validatedWithPolicy: <A, E, R>(
  build: () => Effect.Effect<A, E, R>
) => Effect.Effect<A, E | InvalidOptions | InvalidRetryPolicy, R> = catching

/**
 * A layer whose options (a retry policy among them) are read by `build`: {@link validatedWithPolicy}, for a
 * layer.
 *
 * @internal
 */
export const validatedLayer = <A, E, R>(
  build: () => Layer.Layer<A, E, R>
): Layer.Layer<A, E | InvalidOptions | InvalidRetryPolicy, R> =>
  unwrapLayer(validatedWithPolicy(() => Effect.succeed(build())))
