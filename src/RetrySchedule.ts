/**
 * The retry policy and the `Schedule` it builds.
 *
 * `RetrySchedule.make(policy)` is an ordinary Effect `Schedule` whose input is
 * the failed error, so it works with `Effect.retry` and composes with Effect's
 * own combinators (`Schedule.upTo`, `Schedule.intersect`, `Schedule.tapInput`, ...).
 * It recurs while the error classifies itself as `Transient`, at most
 * `maxAttempts - 1` times, and waits
 * `max(min(baseDelay * factor^(n-1), maxDelay), retryAfter)` before retry `n`,
 * plus jitter that only ever adds. Randomness comes from the `Random` service
 * and time from `Clock`, so `TestClock` and a seeded `Random` reproduce every
 * schedule exactly.
 *
 * @example
 * ```ts
 * import { Effect, Schedule } from "effect"
 * import { RetrySchedule } from "effect-retry-layer"
 *
 * const schedule = RetrySchedule.make({ maxAttempts: 5, baseDelay: "200 millis" }).pipe(
 *   Schedule.upTo("10 seconds")
 * )
 * declare const call: Effect.Effect<string, unknown>
 * const resilient = Effect.retry(call, schedule)
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Retryable from "./Retryable.js"

/**
 * How jitter is applied to a computed delay.
 *
 * - `"additive"` (default): multiply by a random factor in `[1, 1.1)`. Only
 *   adds, so a server's `Retry-After` stays a floor.
 * - `"none"`: exact delays.
 *
 * @since 0.1.0
 */
export type Jitter = "additive" | "none"

/**
 * A policy rejected at construction.
 *
 * @since 0.1.0
 */
export class InvalidRetryPolicy extends Data.TaggedError("InvalidRetryPolicy")<{
  readonly message: string
  readonly issues: ReadonlyArray<ParseResult.ArrayFormatterIssue>
}> {}

const describeDuration = "a Duration, a number of milliseconds or a string such as \"500 millis\""

const isDurationInput = (u: unknown): u is Duration.DurationInput => Option.isSome(Duration.decodeUnknown(u))

// `Duration.decode` turns NaN and negative numbers into zero; a policy must refuse them instead.
const isNegativeOrNaN = (input: Duration.DurationInput): boolean => {
  if (typeof input === "number") return !(input >= 0)
  if (typeof input === "bigint") return input < BigInt(0)
  if (typeof input === "string") return input.startsWith("-")
  if (Array.isArray(input)) return input.some((n) => !(n >= 0))
  return false
}

/**
 * A non-negative duration, from any `DurationInput`.
 */
const NonNegativeDuration = Schema.transformOrFail(
  Schema.declare(isDurationInput, { identifier: "DurationInput", description: describeDuration }),
  Schema.DurationFromSelf,
  {
    strict: true,
    decode: (input, _, ast) =>
      isNegativeOrNaN(input)
        ? ParseResult.fail(new ParseResult.Type(ast, input, `expected a non-negative duration, got ${String(input)}`))
        : ParseResult.succeed(Duration.decode(input)),
    encode: ParseResult.succeed
  }
)

const FiniteDuration = NonNegativeDuration.pipe(
  Schema.filter((d) => Duration.isFinite(d) || "expected a finite duration")
)

const JitterSchema = Schema.transform(
  Schema.Union(Schema.Boolean, Schema.Literal("additive", "none")),
  Schema.Literal("additive", "none"),
  {
    strict: true,
    decode: (j) => j === true ? "additive" as const : j === false ? "none" as const : j,
    encode: identity
  }
)

const withDefault = <S extends Schema.Schema.Any>(schema: S, value: () => Schema.Schema.Type<S>) =>
  Schema.optionalWith(schema, { default: value, exact: true })

/**
 * A validated retry policy. Build one with {@link RetryPolicy.from} (or decode
 * untrusted input with {@link RetryPolicy.decode}); bad input such as
 * `maxAttempts: 0`, a negative or NaN delay or `factor < 1` is an
 * {@link InvalidRetryPolicy}, never a silent default.
 *
 * | field | default | meaning |
 * | --- | --- | --- |
 * | `maxAttempts` | 3 | calls to the inner model, the first included (1 disables retries) |
 * | `baseDelay` | 1 second | delay before the first retry |
 * | `factor` | 2 | growth per retry |
 * | `maxDelay` | 30 seconds | cap on the computed delay (not on `retryAfter`) |
 * | `jitter` | `"additive"` | `true`/`"additive"` adds 0-10%, `false`/`"none"` is exact |
 * | `maxRetryAfter` | none | a `retryAfter` above this is not waited for: the error is returned at once |
 *
 * @since 0.1.0
 */
export class RetryPolicy extends Schema.Class<RetryPolicy>("RetryPolicy")(
  Schema.Struct({
    maxAttempts: withDefault(
      Schema.Int.pipe(Schema.greaterThanOrEqualTo(1, { message: () => "maxAttempts must be an integer >= 1" })),
      () => 3
    ),
    baseDelay: withDefault(FiniteDuration, () => Duration.seconds(1)),
    maxDelay: withDefault(NonNegativeDuration, () => Duration.seconds(30)),
    factor: withDefault(
      Schema.Number.pipe(
        Schema.finite({ message: () => "factor must be a finite number >= 1" }),
        Schema.greaterThanOrEqualTo(1, { message: () => "factor must be a finite number >= 1" })
      ),
      () => 2
    ),
    jitter: withDefault(JitterSchema, () => "additive" as const),
    maxRetryAfter: Schema.optionalWith(NonNegativeDuration, { exact: true })
  }).pipe(
    Schema.filter((p) =>
      Duration.lessThanOrEqualTo(p.baseDelay, p.maxDelay) || {
        path: ["maxDelay"],
        message: `maxDelay (${Duration.format(p.maxDelay)}) must not be below baseDelay (${
          Duration.format(p.baseDelay)
        })`
      }
    )
  )
) {
  /**
   * Validates `input` and fills in the defaults.
   *
   * @throws InvalidRetryPolicy
   */
  static from(input: RetryPolicy.Input = {}): RetryPolicy {
    return Either.getOrThrowWith(decodeEither(input), identity)
  }

  /**
   * Validates untrusted input (a config file, an environment variable) in the
   * error channel.
   */
  static decode(input: unknown): Effect.Effect<RetryPolicy, InvalidRetryPolicy> {
    return decodeEither(input)
  }

  /** `maxAttempts 3, baseDelay 1s, factor 2, maxDelay 30s, additive jitter`. */
  static readonly default: RetryPolicy = new RetryPolicy({})
}

/**
 * @since 0.1.0
 */
export declare namespace RetryPolicy {
  /**
   * What {@link RetryPolicy.from} accepts: every field optional, durations as
   * any `DurationInput`.
   */
  export type Input = Schema.Schema.Encoded<typeof RetryPolicy>
}

const decodePolicy = Schema.decodeUnknownEither(RetryPolicy, { errors: "all" })

const decodeEither = (input: unknown): Either.Either<RetryPolicy, InvalidRetryPolicy> =>
  Either.mapLeft(decodePolicy(input), (error) => {
    const issues = ParseResult.ArrayFormatter.formatErrorSync(error)
    return new InvalidRetryPolicy({
      message: `Invalid retry policy: ${issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ")}`,
      issues
    })
  })

/**
 * Accepts a validated policy as is and validates anything else.
 *
 * @since 0.1.0
 */
export const policy = (input: RetryPolicy | RetryPolicy.Input = {}): RetryPolicy =>
  input instanceof RetryPolicy ? input : RetryPolicy.from(input)

/**
 * What the schedule outputs at each step.
 *
 * @since 0.1.0
 */
export interface RetryStep<E> {
  /** The attempt that just failed: 1 for the first call. */
  readonly attempt: number
  readonly error: E
  /** The wait before the next attempt; zero when the schedule stops. */
  readonly delay: Duration.Duration
}

/**
 * Whether `policy` allows another attempt after `error`, ignoring the attempt
 * count: the error must be transient and its `retryAfter` within `maxRetryAfter`.
 *
 * @since 0.1.0
 */
export const isRetryable = (policy: RetryPolicy, error: unknown): boolean => {
  const classification = Retryable.classify(error)
  if (classification._tag === "Permanent") return false
  const max = policy.maxRetryAfter
  return max === undefined || Option.match(classification.retryAfter, {
    onNone: () => true,
    onSome: (hint) => Duration.lessThanOrEqualTo(hint, max)
  })
}

/**
 * The schedule for a policy. Its input is the failed error; its output a
 * {@link RetryStep}.
 *
 * @since 0.1.0
 */
export const make = <E = unknown>(
  input: RetryPolicy | RetryPolicy.Input = {}
): Schedule.Schedule<RetryStep<E>, E> => {
  const p = policy(input)
  const delays = Schedule.exponential(p.baseDelay, p.factor).pipe(
    Schedule.modifyDelay((_, delay) => Duration.min(delay, p.maxDelay)),
    Schedule.intersect(Schedule.recurs(p.maxAttempts - 1)),
    Schedule.intersect(Schedule.identity<E>()),
    Schedule.whileInput((error: E) => isRetryable(p, error)),
    // The floor goes on after the cap: a server's hint is honoured even past `maxDelay`.
    Schedule.modifyDelay(([, error], delay) =>
      Option.match(Retryable.retryAfter(error), { onNone: () => delay, onSome: (hint) => Duration.max(delay, hint) })
    ),
    p.jitter === "additive" ? Schedule.jitteredWith({ min: 1, max: 1.1 }) : identity
  )
  // `delays` reads the final (floored, jittered) wait back out of the decision.
  return Schedule.delays(delays).pipe(
    Schedule.intersect(Schedule.identity<E>()),
    Schedule.intersect(Schedule.count),
    Schedule.map(([[delay, error], n]): RetryStep<E> => ({ attempt: n + 1, error, delay }))
  )
}
