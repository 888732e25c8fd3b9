/**
 * The error of options that failed validation, on both lines.
 */
import * as Data from "effect/Data"

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
