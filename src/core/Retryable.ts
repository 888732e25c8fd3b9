/**
 * How an error says whether it is safe to retry.
 *
 * An error opts in to retries by implementing the {@link Retryable} protocol: a
 * method under the {@link symbol} key that returns a {@link RetryClassification}.
 * Anything that does not implement it is `Permanent`: a retry layer must never
 * reissue a request nobody said was safe to reissue.
 *
 * @example
 * ```ts
 * import { Data, Duration, Option } from "effect"
 * import { Retryable } from "effect-retry-layer"
 *
 * class Busy extends Data.TaggedError("Busy")<{ readonly waitMs: number }> {
 *   [Retryable.symbol]() {
 *     return Retryable.transient(Duration.millis(this.waitMs))
 *   }
 * }
 *
 * Retryable.classify(new Busy({ waitMs: 50 })) // Transient { retryAfter: Some(50 millis) }
 * Retryable.classify(new Error("boom"))        // Permanent
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"

/**
 * The key of the classification method.
 *
 * @category symbols
 * @since 0.1.0
 */
export const symbol: unique symbol = Symbol.for("effect-retry-layer/Retryable")

/**
 * An error that classifies itself.
 *
 * @category models
 * @since 0.1.0
 */
export interface Retryable {
  readonly [symbol]: () => RetryClassification
}

/**
 * What a retry layer may do with a failure.
 *
 * - `Permanent`: return it after one call.
 * - `Transient`: safe to try again; `retryAfter` is the server's hint (from a
 *   `Retry-After` header or similar), which a retry schedule treats as a floor.
 *
 * @category models
 * @since 0.1.0
 */
export type RetryClassification = Data.TaggedEnum<{
  Permanent: {}
  Transient: { readonly retryAfter: Option.Option<Duration.Duration> }
}>

/**
 * Constructors, guards and `$match` for {@link RetryClassification}.
 *
 * @category models
 * @since 0.1.0
 */
export const RetryClassification = Data.taggedEnum<RetryClassification>()

/**
 * @category constructors
 * @since 0.1.0
 */
export const permanent: RetryClassification = RetryClassification.Permanent()

const transientWithoutHint: RetryClassification = RetryClassification.Transient({ retryAfter: Option.none() })

/**
 * A transient classification, with an optional server hint.
 *
 * @category constructors
 * @since 0.1.0
 */
export const transient = (retryAfter?: Duration.Duration | undefined): RetryClassification =>
  retryAfter === undefined
    ? transientWithoutHint
    : RetryClassification.Transient({ retryAfter: Option.some(retryAfter) })

/**
 * @category guards
 * @since 0.1.0
 */
export const isRetryable = (u: unknown): u is Retryable =>
  Predicate.hasProperty(u, symbol) && Predicate.isFunction(u[symbol])

/**
 * Classifies any value. Values that do not implement {@link Retryable} are
 * `Permanent`.
 *
 * @category classification
 * @since 0.1.0
 */
export const classify = (u: unknown): RetryClassification => isRetryable(u) ? u[symbol]() : permanent

/**
 * @category guards
 * @since 0.1.0
 */
export const isTransient = (u: unknown): boolean => classify(u)._tag === "Transient"

/**
 * The server's hint of a transient error, `None` for anything else.
 *
 * @category getters
 * @since 0.1.0
 */
export const retryAfter = (u: unknown): Option.Option<Duration.Duration> => {
  const classification = classify(u)
  return classification._tag === "Transient" ? classification.retryAfter : Option.none()
}
