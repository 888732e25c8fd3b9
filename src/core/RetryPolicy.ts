/**
 * The retry policy: its options, validated; the backoff it computes; how it classifies a failure. Shared by
 * both Effect lines (`RetrySchedule` re-exports it beside each line's `make`, the `Schedule` of a policy).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import { type DurationInput, isRecord } from "../internal/compat.js"
import * as ForeignError from "./ForeignError.js"
import { maxAttemptsBound } from "./internal/attempts.js"
import { Classified } from "./internal/classified.js"
import { readDuration, show } from "./internal/duration.js"
import { nearest } from "./internal/spelling.js"
import { maxMessageChars } from "./internal/text.js"
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
 * @category models
 * @since 0.1.0
 */
export type Jitter = "additive" | "none"

/**
 * What a server's hint (`Retry-After`, `retry-after-ms`, an error's own
 * `retryAfter`) does to the wait.
 *
 * - `"floor"` (default): the wait is the larger of the backoff and the hint.
 *   A fleet that retries at once when told "0.3 s" comes back all together;
 *   the backoff spreads it (measured in `bench/fleet.ts`, `retry-exact-hint`).
 * - `"exact"`: the hint alone, when there is one (the backoff when there is
 *   not), jitter still only adding. What the official SDKs do; the shortest
 *   wait for one caller.
 *
 * @category models
 * @since 0.1.0
 */
export type HintMode = "floor" | "exact"

/**
 * A policy rejected at construction: every problem with its path, in one message.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidRetryPolicy extends Data.TaggedError("InvalidRetryPolicy")<{
  readonly message: string
  readonly issues: ReadonlyArray<PolicyIssue>
}> {}

/**
 * One problem with a policy: where (`path`), what kind (the kinds of Effect 3's `ArrayFormatterIssue`, whose
 * shape this is), and a message.
 *
 * @category errors
 * @since 0.1.0
 */
export interface PolicyIssue {
  readonly _tag: "Type" | "Unexpected" | "Refinement" | "Forbidden"
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

// Validation (before the class: its presets are validated as it is defined) ---

// By hand rather than with Schema: `effect/Schema` loads fast-check (~110 ms of import time), and the Promise
// entry, which validates policies, must not pay that. The duration rules are the fleet options' (`duration.ts`).
const read = (input: unknown): RetryPolicy.Fields | InvalidRetryPolicy => {
  const issues: Array<PolicyIssue> = []
  const problem = (path: string, message: string, tag: PolicyIssue["_tag"] = "Type") => {
    issues.push({ _tag: tag, path: path === "" ? [] : [path], message })
    return undefined
  }
  if (!isRecord(input)) {
    problem("", `expected an object of options, got ${show(input)}`)
    return invalid(issues)
  }
  const unknown = Object.keys(input).filter((key) => !fieldNames.has(key))
  // An object with a million keys is refused with a short message: the first few, and a count.
  if (unknown.length > maxUnknownListed) {
    problem(
      "",
      `${unknown.length} unknown options, among them ${unknown.slice(0, 3).map(show).join(", ")}`,
      "Unexpected"
    )
  }
  for (const key of unknown.length > maxUnknownListed ? [] : unknown) {
    const near = nearest(key, fieldNames)
    problem(key, `unknown option${near === undefined ? "" : `; did you mean ${near}?`}`, "Unexpected")
  }
  const value = (key: keyof RetryPolicy.Input) => input[key]
  const duration = (key: keyof RetryPolicy.Input, positive: boolean, fallback?: Duration.Duration) => {
    const raw = value(key)
    if (raw === undefined) return fallback
    const result = readDuration(raw, { finite: true, positive })
    return "problem" in result ? problem(key, result.problem) : result.duration
  }
  const number = (key: "maxAttempts" | "factor", fallback: number, ok: (n: number) => boolean, wanted: string) => {
    const raw = value(key)
    if (raw === undefined) return fallback
    return typeof raw === "number" && ok(raw) ? raw : problem(key, `${key} must be ${wanted}, got ${show(raw)}`)
  }
  const literal = <L extends string>(key: keyof RetryPolicy.Input, fallback: L, allowed: ReadonlyArray<L>) => {
    const raw = value(key)
    if (raw === undefined) return fallback
    return allowed.includes(raw as L)
      ? raw as L
      : problem(key, `expected one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}, got ${show(raw)}`)
  }
  const maxAttempts = number(
    "maxAttempts",
    3,
    (n) => Number.isInteger(n) && n >= 1 && n <= maxAttemptsBound,
    `an integer from 1 to ${maxAttemptsBound}`
  )
  const factor = number("factor", 2, (n) => Number.isFinite(n) && n >= 1, "a finite number >= 1")
  const baseDelay = duration("baseDelay", false, Duration.seconds(1))
  const maxDelay = duration("maxDelay", false, Duration.seconds(30))
  const jitterInput = value("jitter")
  const jitter = jitterInput === true ? "additive" : jitterInput === false ? "none" : literal("jitter", "additive", [
    "additive",
    "none"
  ])
  const retryAfter = literal("retryAfter", "floor", ["floor", "exact"])
  const maxRetryAfter = duration("maxRetryAfter", false)
  const timeout = duration("timeout", true)
  const maxElapsed = duration("maxElapsed", true)
  const commitOn = literal("commitOn", "open", ["open", "first-chunk"])
  const flag = (key: "detectRateLimits" | "untilDeadline") => {
    const raw = value(key)
    return raw === undefined || typeof raw === "boolean"
      ? raw === true
      : problem(key, `expected a boolean, got ${show(raw)}`)
  }
  const detectRateLimits = flag("detectRateLimits")
  const untilDeadline = flag("untilDeadline")
  if (baseDelay !== undefined && maxDelay !== undefined && millis(maxDelay) < millis(baseDelay)) {
    problem(
      "maxDelay",
      `maxDelay (${Duration.format(maxDelay)}) must not be below baseDelay (${Duration.format(baseDelay)})`,
      "Refinement"
    )
  }
  if (
    issues.length > 0 || maxAttempts === undefined || factor === undefined || baseDelay === undefined ||
    maxDelay === undefined || jitter === undefined || retryAfter === undefined || commitOn === undefined ||
    detectRateLimits === undefined || untilDeadline === undefined
  ) return invalid(issues)
  return {
    maxAttempts,
    baseDelay,
    maxDelay,
    factor,
    jitter,
    retryAfter,
    ...(maxRetryAfter === undefined ? {} : { maxRetryAfter }),
    ...(timeout === undefined ? {} : { timeout }),
    ...(maxElapsed === undefined ? {} : { maxElapsed }),
    commitOn,
    detectRateLimits,
    untilDeadline
  }
}

// Comparisons both Effect lines spell alike (Effect 4 renamed `lessThan` and friends).
const millis = Duration.toMillis

const maxUnknownListed = 20

const invalid = (issues: ReadonlyArray<PolicyIssue>) =>
  new InvalidRetryPolicy({
    message: `Invalid retry policy: ${
      issues.map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(policy)"}: ${issue.message}`).join("; ")
    }`,
    issues
  })

const fieldNames: ReadonlySet<string> = new Set<keyof RetryPolicy.Input>([
  "maxAttempts",
  "baseDelay",
  "maxDelay",
  "factor",
  "jitter",
  "retryAfter",
  "maxRetryAfter",
  "timeout",
  "maxElapsed",
  "commitOn",
  "detectRateLimits",
  "untilDeadline"
])

/**
 * A validated retry policy. Build one with {@link RetryPolicy.from} (or decode
 * untrusted input with {@link RetryPolicy.decode}); bad input such as
 * `maxAttempts: 0`, a negative, NaN or infinite delay, `factor < 1`, `null`
 * or a misspelled key is an {@link InvalidRetryPolicy}, never a silent default.
 *
 * | field | default | meaning |
 * | --- | --- | --- |
 * | `maxAttempts` | 3 | calls to the inner model, the first included (1 disables retries); at most 1,000 |
 * | `baseDelay` | 1 second | delay before the first retry |
 * | `factor` | 2 | growth per retry |
 * | `maxDelay` | 30 seconds | cap on the computed delay (not on a server's hint); finite |
 * | `jitter` | `"additive"` | `true`/`"additive"` adds 0-10%, `false`/`"none"` is exact |
 * | `retryAfter` | `"floor"` | a server's hint is a floor under the backoff, or with `"exact"` the wait itself |
 * | `maxRetryAfter` | none | a hint above this is not waited for: the error is returned at once |
 * | `timeout` | none | limit on each attempt; an attempt that runs over fails with a (transient) `TimeoutError` |
 * | `maxElapsed` | none | limit on the whole call, attempts and waits: a wait that would cross it is not started, and an attempt still running when it passes is cut off |
 * | `commitOn` | `"open"` | where a model call commits: `"open"` (the stream opened) or `"first-chunk"` (the first chunk arrived) |
 * | `detectRateLimits` | `false` | also retry errors nobody recognises that read like rate limits ("rate limit", "throttl", "too many requests" in the message) |
 * | `untilDeadline` | `false` (the stack's layers: `true` unless `maxAttempts` is set) | a call with a deadline set around it (`Deadline.withDeadline`) is retried until that deadline, up to 1,000 attempts, not `maxAttempts` times; a wait that would cross the deadline is not started. For a retry under a limiter that admits only what can be answered in time |
 *
 * Every hint is capped at a day ({@link RetryAfter.maxHint}) whoever gives it.
 * `timeout`, `maxElapsed` and `untilDeadline` are limits on a call, not on a schedule: the
 * consumers that run the call honour them (`RetryAcquisition`,
 * `RetryingModel`, the Promise `retry`), and the ones that only see failures
 * (`RetrySchedule.make`, `RetryContext`, `delays`) refuse a policy that sets
 * them rather than ignore it; `commitOn` is read by the model decorators alone.
 *
 * @category models
 * @since 0.1.0
 */
export class RetryPolicy extends Data.Class<RetryPolicy.Fields> {
  // Only `from` and `decode` make one, so every policy has been validated.
  private constructor(fields: RetryPolicy.Fields) {
    super(fields)
  }

  /**
   * Validates `input` and fills in the defaults.
   *
   * @throws InvalidRetryPolicy
   */
  static from(input: RetryPolicy.Input = {}): RetryPolicy {
    const fields = read(input)
    if (fields instanceof InvalidRetryPolicy) throw fields
    return new RetryPolicy(fields)
  }

  /**
   * Validates untrusted input (a config file, an environment variable) in the
   * error channel.
   */
  static decode(input: unknown): Effect.Effect<RetryPolicy, InvalidRetryPolicy> {
    return Effect.suspend(() => {
      const fields = read(input)
      return fields instanceof InvalidRetryPolicy ? Effect.fail(fields) : Effect.succeed(new RetryPolicy(fields))
    })
  }

  /** `maxAttempts 3, baseDelay 1s, factor 2, maxDelay 30s, additive jitter`. */
  static readonly default: RetryPolicy = RetryPolicy.from({})

  /**
   * For batch work against rate-limited APIs: 8 attempts, 2 s doubling to at
   * most 60 s, always jittered, Retry-After honoured up to 5 minutes, and
   * errors that read like rate limits retried even if nothing else says so.
   */
  static readonly rateLimit: RetryPolicy = RetryPolicy.from({
    maxAttempts: 8,
    baseDelay: "2 seconds",
    maxDelay: "60 seconds",
    jitter: "additive",
    maxRetryAfter: "5 minutes",
    detectRateLimits: true
  })

  /**
   * For a person waiting: 2 attempts, 250 ms apart (at most 1 s), a server hint
   * over 2 s is not waited for, and 15 s for the whole call.
   */
  static readonly interactive: RetryPolicy = RetryPolicy.from({
    maxAttempts: 2,
    baseDelay: "250 millis",
    maxDelay: "1 second",
    maxRetryAfter: "2 seconds",
    maxElapsed: "15 seconds"
  })
}

/**
 * @category models
 * @since 0.1.0
 */
export declare namespace RetryPolicy {
  /**
   * A validated policy's fields.
   *
   * @category models
   * @since 0.1.0
   */
  export interface Fields {
    readonly maxAttempts: number
    readonly baseDelay: Duration.Duration
    readonly maxDelay: Duration.Duration
    readonly factor: number
    readonly jitter: Jitter
    readonly retryAfter: HintMode
    readonly maxRetryAfter?: Duration.Duration | undefined
    readonly timeout?: Duration.Duration | undefined
    readonly maxElapsed?: Duration.Duration | undefined
    readonly commitOn: "open" | "first-chunk"
    readonly detectRateLimits: boolean
    readonly untilDeadline: boolean
  }

  /**
   * What {@link RetryPolicy.from} accepts: every field optional (`undefined`
   * is the default), durations as any `DurationInput`.
   *
   * @category options
   * @since 0.1.0
   */
  export interface Input {
    readonly maxAttempts?: number | undefined
    readonly baseDelay?: DurationInput | undefined
    readonly maxDelay?: DurationInput | undefined
    readonly factor?: number | undefined
    readonly jitter?: Jitter | boolean | undefined
    readonly retryAfter?: HintMode | undefined
    readonly maxRetryAfter?: DurationInput | undefined
    readonly timeout?: DurationInput | undefined
    readonly maxElapsed?: DurationInput | undefined
    readonly commitOn?: "open" | "first-chunk" | undefined
    readonly detectRateLimits?: boolean | undefined
    readonly untilDeadline?: boolean | undefined
  }
}

/**
 * Accepts a validated policy as is and validates anything else.
 *
 * @throws InvalidRetryPolicy
 * @category options
 * @since 0.1.0
 */
export const policy = (input: RetryPolicy | RetryPolicy.Input = {}): RetryPolicy =>
  input instanceof RetryPolicy
    ? input
    // No field set is the defaults, without a validation: `retry(fn)` would pay it on every call.
    : isRecord(input) && Object.values(input).every((value) => value === undefined)
    ? RetryPolicy.default
    : RetryPolicy.from(input)

/**
 * The fields a policy may set that only some consumers can honour: limits on
 * a call, and the model's commit point.
 *
 * @category models
 * @since 0.1.0
 */
export type CallField = "timeout" | "maxElapsed" | "commitOn" | "untilDeadline"

/**
 * `policy`, if `consumer` honours every call-level field it sets; otherwise an
 * {@link InvalidRetryPolicy} that says where the field would be honoured. A
 * schedule only sees failures, so a limit on the attempts it never runs would
 * be ignored in silence.
 *
 * @throws InvalidRetryPolicy
 * @category options
 * @since 0.1.0
 */
export const honouredBy = (
  policy: RetryPolicy,
  consumer: string,
  honours: ReadonlyArray<CallField>
): RetryPolicy => {
  const ignored = (["timeout", "maxElapsed", "commitOn", "untilDeadline"] as const).filter((field) =>
    !honours.includes(field) &&
    (field === "commitOn"
      ? policy.commitOn !== "open"
      : field === "untilDeadline"
      ? policy.untilDeadline
      : policy[field] !== undefined)
  )
  if (ignored.length === 0) return policy
  const issues = ignored.map((field): PolicyIssue => ({
    _tag: "Forbidden",
    path: [field],
    message: `${consumer} cannot honour ${field}: ${whereHonoured[field]}`
  }))
  throw new InvalidRetryPolicy({
    message: `Invalid retry policy: ${issues.map((issue) => issue.message).join("; ")}`,
    issues
  })
}

const whereHonoured: Record<CallField, string> = {
  timeout: "it limits each attempt, which only what runs the attempts can do (RetryAcquisition, RetryingModel, " +
    "the Promise retry); or put Effect.timeout on the call",
  maxElapsed: "it limits the whole call, attempts included, which only what runs the attempts can do " +
    "(RetryAcquisition, RetryingModel, the Promise retry); Schedule.upTo bounds the schedule's own time",
  commitOn: "it is where a model stream commits, read by RetryingModel and ResilientModel",
  untilDeadline: "it reads the deadline set around the call, which only what runs the attempts can do " +
    "(RetryAcquisition and the layers built on it)"
}

/**
 * What the schedule outputs at each step.
 *
 * @category models
 * @since 0.1.0
 */
export interface RetryStep<E> {
  /** The attempt that just failed: 1 for the first call. */
  readonly attempt: number
  readonly error: E
  /** How the policy classified `error` ({@link classifyUnder}): once per failure, for all who read it. */
  readonly classification: Retryable.RetryClassification
  /** The wait before the next attempt; zero when the schedule stops. */
  readonly delay: Duration.Duration
}

/**
 * Whether `policy` allows another attempt after `error`, ignoring the attempt
 * count: the error must be transient and its `retryAfter` within `maxRetryAfter`.
 *
 * @category guards
 * @since 0.1.0
 */
export const allowsRetry = (policy: RetryPolicy, error: unknown): boolean =>
  allows(policy, classifyUnder(policy, error))

/**
 * Whether a policy allows another attempt after a failure so classified, ignoring the attempt count: transient,
 * and its hint (if any) within `maxRetryAfter`.
 *
 * @category classification
 * @since 0.1.0
 */
export const allows = (policy: RetryPolicy, classification: Retryable.RetryClassification): boolean => {
  if (classification._tag === "Permanent") return false
  const max = policy.maxRetryAfter
  return max === undefined || Option.match(classification.retryAfter, {
    onNone: () => true,
    onSome: (hint) => millis(hint) <= millis(max)
  })
}

/**
 * The backoff before retry `retry` (1 for the first), before any hint and
 * jitter: `min(baseDelay * factor^(retry - 1), maxDelay)`. O(1) for any `retry`.
 *
 * @category schedules
 * @since 0.1.0
 */
export const backoff = (policy: RetryPolicy, retry: number): Duration.Duration => {
  if (Duration.isZero(policy.baseDelay)) return Duration.zero
  const growth = Math.pow(policy.factor, retry - 1)
  return Number.isFinite(growth)
    ? Duration.min(Duration.times(policy.baseDelay, growth), policy.maxDelay)
    : policy.maxDelay
}

/**
 * The wait before retry `retry` (1 for the first) after a failure so classified, `random` a uniform draw in
 * `[0, 1)`: the {@link backoff}, under the server's hint as a floor (with `retryAfter: "exact"`, the hint
 * alone), then additive jitter (`x [1, 1.1)`; none with `jitter: "none"`, when `random` is not read). The hint
 * goes on after the cap: a server's hint is honoured even past `maxDelay`. Each line's `Schedule` waits this.
 *
 * @category schedules
 * @since 0.1.0
 */
export const delayFor = (
  policy: RetryPolicy,
  retry: number,
  classification: Retryable.RetryClassification,
  random: number
): Duration.Duration => {
  const backedOff = backoff(policy, retry)
  const hinted = classification._tag === "Permanent" || Option.isNone(classification.retryAfter)
    ? backedOff
    : policy.retryAfter === "exact"
    ? classification.retryAfter.value
    : Duration.max(backedOff, classification.retryAfter.value)
  if (policy.jitter === "none") return hinted
  // Effect's `jitteredWith({ min: 1, max: 1.1 })`, to the last bit: a seeded run waits what it always did.
  const millis = Duration.toMillis(hinted)
  return Duration.millis(millis * 1 * (1 - random) + millis * 1.1 * random)
}

/**
 * How `policy` classifies `error`: the error's own word ({@link Retryable}),
 * else what {@link ForeignError} recognises (HTTP client errors, network
 * errors, AWS SDK errors, statuses, provider codes), else, with
 * `detectRateLimits`, a message that reads like a rate limit; anything else
 * is `Permanent`. Every hint is capped at {@link RetryAfter.maxHint}.
 *
 * @category classification
 * @since 0.1.0
 */
export const classifyUnder = (policy: RetryPolicy, error: unknown): Retryable.RetryClassification => {
  const classification = ownClassification(error) ?? Option.getOrElse(
    ForeignError.classify(error),
    () => policy.detectRateLimits && readsLikeRateLimit(error) ? Retryable.transient() : Retryable.permanent
  )
  // One bound on every hint, whoever gave it: a header's (already capped when parsed), a foreign error's or
  // an error's own classification. A day, `RetryAfter.maxHint`; `maxRetryAfter` can refuse long ones sooner.
  return classification._tag === "Transient" && Option.isSome(classification.retryAfter) &&
      millis(classification.retryAfter.value) > millis(RetryAfter.maxHint)
    ? Retryable.transient(RetryAfter.maxHint)
    : classification
}

// An error whose own protocol throws (a hostile proxy, a broken getter) has not said it is safe to retry.
const ownClassification = (error: unknown): Retryable.RetryClassification | undefined => {
  try {
    return Retryable.isRetryable(error) ? Retryable.classify(error) : undefined
  } catch {
    return Retryable.permanent
  }
}

const rateLimitMessage = /rate[ _-]?limit|throttl|too many requests/i

/**
 * Whether the message of an error nobody recognises reads like a rate limit,
 * as Python's rate-limit decorators judge it: "rate limit", "throttl" or "too
 * many requests". Only the first 2 KiB of a message are read.
 *
 * @category classification
 * @since 0.1.0
 */
export const readsLikeRateLimit = (error: unknown): boolean => {
  try {
    const message = Predicate.hasProperty(error, "message") ? error.message : undefined
    return Predicate.isString(message) && rateLimitMessage.test(message.slice(0, maxMessageChars))
  } catch {
    return false
  }
}

/**
 * Whether an error is the server asking for less traffic: a throttling tag
 * ({@link ModelError.isThrottlingTag}) on this library's errors or on what
 * {@link ForeignError} recognises, or a message that
 * {@link readsLikeRateLimit}. The limiter slows down on these; the budget and
 * the breaker do not count them.
 *
 * @category guards
 * @since 0.1.0
 */
export const isThrottling = (error: unknown): boolean => {
  if (ModelError.isModelError(error)) return ModelError.isThrottlingTag(error._tag)
  // Described by the error it amounts to (a response's, an @effect/ai error's), or else by what it wraps.
  if (error instanceof Classified) {
    return error._tag === undefined
      ? isThrottling(error.value)
      : ModelError.isThrottlingTag(error._tag as ModelError.Tag)
  }
  const recognized = ForeignError.recognize(error)
  return recognized === undefined ? readsLikeRateLimit(error) : ModelError.isThrottlingTag(recognized.tag)
}
