/**
 * The error of options that failed validation, on both lines.
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"

/**
 * One problem with one option: its path (a dotted field is several keys), what kind of problem (`Type`,
 * `Unexpected`, `Missing`, ...), and what is wrong.
 *
 * @since 0.2.0
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
 * @since 0.2.0
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
