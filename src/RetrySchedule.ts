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
import type * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import { decoder, FiniteDuration, NonNegativeDuration, PositiveDuration, withDefault } from "./internal/schema.js"
import * as ModelError from "./ModelError.js"
import * as Retryable from "./Retryable.js"
import * as RetryAfter from "./RetryAfter.js"

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

const JitterSchema = Schema.transform(
  Schema.Union(Schema.Boolean, Schema.Literal("additive", "none")),
  Schema.Literal("additive", "none"),
  {
    strict: true,
    decode: (j) => j === true ? "additive" as const : j === false ? "none" as const : j,
    encode: identity
  }
)

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
 * | `maxDelay` | 30 seconds | cap on the computed delay (not on `retryAfter`); finite |
 * | `jitter` | `"additive"` | `true`/`"additive"` adds 0-10%, `false`/`"none"` is exact |
 * | `maxRetryAfter` | none | a `retryAfter` above this is not waited for: the error is returned at once |
 * | `timeout` | none | limit on each attempt; an attempt that runs over fails with a (transient) `TimeoutError` |
 * | `maxElapsed` | none | limit on the whole call, attempts and waits: a wait that would cross it is not started, and an attempt still running when it passes is cut off |
 * | `commitOn` | `"open"` | where a model call commits: `"open"` (the stream opened) or `"first-chunk"` (the first chunk arrived) |
 * | `detectRateLimits` | `false` | also retry errors that do not classify themselves but look like rate limits (429, throttling codes, "rate limit" / "throttl" messages) |
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
    maxDelay: withDefault(FiniteDuration, () => Duration.seconds(30)),
    factor: withDefault(
      Schema.Number.pipe(
        Schema.finite({ message: () => "factor must be a finite number >= 1" }),
        Schema.greaterThanOrEqualTo(1, { message: () => "factor must be a finite number >= 1" })
      ),
      () => 2
    ),
    jitter: withDefault(JitterSchema, () => "additive" as const),
    maxRetryAfter: Schema.optionalWith(NonNegativeDuration, { exact: true }),
    timeout: Schema.optionalWith(PositiveDuration, { exact: true }),
    maxElapsed: Schema.optionalWith(PositiveDuration, { exact: true }),
    commitOn: withDefault(Schema.Literal("open", "first-chunk"), () => "open" as const),
    detectRateLimits: withDefault(Schema.Boolean, () => false)
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

  /**
   * For batch work against rate-limited APIs: 8 attempts, 2 s doubling to at
   * most 60 s, always jittered, Retry-After honoured up to 5 minutes, and
   * errors that look like rate limits retried even if they do not classify
   * themselves.
   */
  static readonly rateLimit: RetryPolicy = new RetryPolicy({
    maxAttempts: 8,
    baseDelay: Duration.seconds(2),
    maxDelay: Duration.seconds(60),
    jitter: "additive",
    maxRetryAfter: Duration.minutes(5),
    detectRateLimits: true
  })

  /**
   * For a person waiting: 2 attempts, 250 ms apart (at most 1 s), a server hint
   * over 2 s is not waited for, and 15 s for the whole call.
   */
  static readonly interactive: RetryPolicy = new RetryPolicy({
    maxAttempts: 2,
    baseDelay: Duration.millis(250),
    maxDelay: Duration.seconds(1),
    maxRetryAfter: Duration.seconds(2),
    maxElapsed: Duration.seconds(15)
  })
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

// Unknown keys are ignored for now: the Promise bridge passes its own options in the same object.
const decodeEither = decoder(
  RetryPolicy,
  "retry policy",
  (message, issues) => new InvalidRetryPolicy({ message, issues }),
  "ignore"
)

/**
 * Accepts a validated policy as is and validates anything else.
 *
 * @since 0.1.0
 */
export const policy = (input: RetryPolicy | RetryPolicy.Input = {}): RetryPolicy =>
  input instanceof RetryPolicy
    ? input
    // No field set is the defaults, without the ~3 us of a decode: `retry(fn)` pays it on every call.
    : Predicate.isRecord(input) && Object.values(input).every((value) => value === undefined)
    ? RetryPolicy.default
    : RetryPolicy.from(input)

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
  const classification = classify(policy, error)
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
    Schedule.modifyDelay(([, error], delay) => {
      const classification = classify(p, error)
      return classification._tag === "Transient" && Option.isSome(classification.retryAfter)
        ? Duration.max(delay, classification.retryAfter.value)
        : delay
    }),
    p.jitter === "additive" ? Schedule.jitteredWith({ min: 1, max: 1.1 }) : identity
  )
  // `delays` reads the final (floored, jittered) wait back out of the decision.
  return Schedule.delays(delays).pipe(
    Schedule.intersect(Schedule.identity<E>()),
    Schedule.intersect(Schedule.count),
    Schedule.map(([[delay, error], n]): RetryStep<E> => ({ attempt: n + 1, error, delay }))
  )
}

/**
 * How `policy` classifies `error`: the error's own word ({@link Retryable}),
 * and, with `detectRateLimits`, rate limits among errors that do not classify
 * themselves.
 *
 * @since 0.1.0
 */
export const classify = (policy: RetryPolicy, error: unknown): Retryable.RetryClassification => {
  const classification = policy.detectRateLimits && !Retryable.isRetryable(error) && looksLikeRateLimit(error)
    ? Retryable.transient(Option.getOrUndefined(hintOf(error)))
    : Retryable.classify(error)
  // One bound on every hint, whoever gave it: a header's (already capped when parsed), a foreign error's or
  // an error's own classification. A day, `RetryAfter.maxHint`; `maxRetryAfter` can refuse long ones sooner.
  return classification._tag === "Transient" && Option.isSome(classification.retryAfter) &&
      !Duration.lessThanOrEqualTo(classification.retryAfter.value, RetryAfter.maxHint)
    ? Retryable.transient(RetryAfter.maxHint)
    : classification
}

const throttlingNames = new Set([
  "ThrottlingException",
  "TooManyRequestsException",
  "RequestLimitExceeded",
  "ProvisionedThroughputExceededException",
  "RateLimitError",
  "RateLimitExceeded",
  "rate_limit_exceeded",
  "rate_limit_error"
])

const rateLimitMessage = /rate[ _-]?limit|throttl|too many requests/i

const field = (u: unknown, key: string): unknown => Predicate.hasProperty(u, key) ? u[key] : undefined

/**
 * Whether an error that says nothing about itself looks like a rate limit, as
 * Python's rate-limit decorators judge it: a 429 status, a throttling code or
 * name, or a message that says "rate limit", "throttl" or "too many requests".
 *
 * @since 0.1.0
 */
export const looksLikeRateLimit = (error: unknown): boolean => {
  const status = field(error, "status") ?? field(error, "statusCode") ?? field(field(error, "response"), "status")
  if (status === 429 || status === "429") return true
  for (const key of ["name", "code", "type"]) {
    const value = field(error, key)
    if (Predicate.isString(value) && throttlingNames.has(value)) return true
  }
  const message = field(error, "message")
  return Predicate.isString(message) && rateLimitMessage.test(message)
}

/**
 * Whether an error is the server asking for less traffic: this library's
 * `RateLimitError` and `OverloadedError` (429, 529, throttling codes), or a
 * foreign error that {@link looksLikeRateLimit}. The limiter slows down on
 * these; the budget and the breaker do not count them.
 *
 * @since 0.2.0
 */
export const isThrottling = (error: unknown): boolean =>
  ModelError.isThrottling(error) || (!ModelError.isModelError(error) && looksLikeRateLimit(error))

// A hint on an error from elsewhere: its own `retryAfter` (a Duration or seconds), or the delta forms of its
// response headers. A date is not read: a schedule step has no Clock, and the system clock would break TestClock.
const hintOf = (error: unknown): Option.Option<Duration.Duration> => {
  const own = field(error, "retryAfter")
  if (Duration.isDuration(own)) return Option.some(own)
  if (Predicate.isNumber(own) && Number.isFinite(own) && own >= 0) return Option.some(Duration.seconds(own))
  const headers = field(error, "headers") ?? field(field(error, "response"), "headers")
  if (!Predicate.isRecord(headers)) return Option.none()
  const record = headers as RetryAfter.HeaderRecord
  const millis = RetryAfter.header(record, "retry-after-ms")
  const seconds = RetryAfter.header(record, "retry-after")
  return Option.orElse(
    millis === undefined ? Option.none() : RetryAfter.parseMillis(millis),
    () => seconds === undefined || !/^\d/.test(seconds) ? Option.none() : RetryAfter.parseRetryAfter(seconds, 0)
  )
}
