/**
 * The rate-limit headers model providers send on every response, read into
 * one typed {@link RateLimitState}: for each dimension (requests, tokens,
 * input tokens, output tokens) the limit, what remains and when it resets.
 *
 * - Anthropic: `anthropic-ratelimit-<dimension>-limit` / `-remaining` /
 *   `-reset` (an RFC 3339 time), for `requests`, `tokens`, `input-tokens`
 *   and `output-tokens`.
 * - OpenAI and Azure OpenAI: `x-ratelimit-limit-<dimension>` /
 *   `x-ratelimit-remaining-<dimension>` / `x-ratelimit-reset-<dimension>`
 *   (a duration such as `1s`, `6m0s`, `20ms`), for `requests` and `tokens`.
 *
 * Bad values are ignored one by one, never fatal: a count that is not a
 * non-negative integer up to 10^12, a remaining count above its limit, a
 * reset that is not a valid time or duration, or one more than a day away
 * (a reset in the past is "now"). No recognised header at all is `None`.
 *
 * @example
 * ```ts
 * import { RateLimitHeaders } from "effect-retry-layer"
 *
 * RateLimitHeaders.parse({ "x-ratelimit-remaining-requests": "59", "x-ratelimit-reset-requests": "1s" }, 0)
 * // Some({ requests: { remaining: 59, resetAt: 1000 } })
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { getReference, type Reference, reference } from "../internal/compat.js"
import * as Tokens from "./internal/tokens.js"
import * as RetryAfter from "./RetryAfter.js"

/**
 * One dimension of a provider's limit; each field only when the provider
 * sent it (and it made sense).
 *
 * @category models
 * @since 0.1.0
 */
export interface Dimension {
  readonly limit?: number
  readonly remaining?: number
  /** When the window resets, in epoch milliseconds. */
  readonly resetAt?: number
}

/**
 * @category models
 * @since 0.1.0
 */
export type RateLimitState = { readonly [K in DimensionName]?: Dimension }

/**
 * The dimensions, by their field in {@link RateLimitState}.
 *
 * @category models
 * @since 0.1.0
 */
export type DimensionName = Tokens.Dimension

/**
 * The state in a response's headers, read against `now` (epoch
 * milliseconds); `None` when the response carries none.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parse = (headers: RetryAfter.HeaderRecord, now: number): Option.Option<RateLimitState> => {
  const state: { -readonly [K in DimensionName]?: Dimension } = {}
  for (const name of Tokens.dimensions) {
    const [anthropic, openai] = headerNames[name]
    const dimension = read(
      RetryAfter.header(headers, `anthropic-ratelimit-${anthropic}-limit`) ??
        (openai === undefined ? undefined : RetryAfter.header(headers, `x-ratelimit-limit-${openai}`)),
      RetryAfter.header(headers, `anthropic-ratelimit-${anthropic}-remaining`) ??
        (openai === undefined ? undefined : RetryAfter.header(headers, `x-ratelimit-remaining-${openai}`)),
      Option.orElse(
        resetTime(RetryAfter.header(headers, `anthropic-ratelimit-${anthropic}-reset`), now),
        () =>
          openai === undefined ? Option.none() : resetIn(RetryAfter.header(headers, `x-ratelimit-reset-${openai}`), now)
      )
    )
    if (dimension !== undefined) state[name] = dimension
  }
  return Object.keys(state).length === 0 ? Option.none() : Option.some(state)
}

/**
 * Where a response's rate-limit state goes the moment its headers arrive
 * (before its body): the adaptive rate limiter sets it around each call it
 * paces, and the adapters {@link report} to it. By default nobody listens.
 *
 * @category reporting
 * @since 0.1.0
 */
export const currentReporter: Reference<(state: RateLimitState) => Effect.Effect<void>> = reference<
  (state: RateLimitState) => Effect.Effect<void>
>(
  "effect-retry-layer/RateLimitHeaders/currentReporter",
  () => () => Effect.void
)

/**
 * Hands a response's rate-limit state to whoever paces the call: what an
 * adapter does with every response, success or error. A `CompletionModel` of
 * your own that reads a provider's headers can do the same.
 *
 * @category reporting
 * @since 0.1.0
 */
export const report = (state: RateLimitState): Effect.Effect<void> =>
  Effect.flatMap(getReference(currentReporter), (reporter) => reporter(state))

/**
 * Reads a response's headers against the `Clock` and reports what they say
 * (nothing when they say nothing): {@link parse} then {@link report}.
 *
 * @category reporting
 * @since 0.1.0
 */
export const reportHeaders = (headers: RetryAfter.HeaderRecord): Effect.Effect<void> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    Option.match(parse(headers, now), {
      onNone: () => Effect.void,
      onSome: report
    }))

/**
 * The largest count accepted: 10^12.
 *
 * @category constants
 * @since 0.1.0
 */
export const maxCount = 1e12

/**
 * A duration as OpenAI writes it (`1s`, `6m0s`, `0.5s`, `1h2m3s`, `20ms`),
 * in milliseconds; `None` for anything else, or more than a day.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseDuration = (value: string): Option.Option<number> => {
  const m = durationPattern.exec(value.trim())
  if (m === null || m[0] === "") return Option.none()
  const [, h, min, s, ms] = m
  const millis = Number(h ?? 0) * 3_600_000 + Number(min ?? 0) * 60_000 + Number(s ?? 0) * 1000 + Number(ms ?? 0)
  return Number.isFinite(millis) && millis <= day ? Option.some(millis) : Option.none()
}

// Internals -------------------------------------------------------------------

// Each dimension's name in Anthropic's headers and in OpenAI's (which has no input or output split).
const headerNames: { readonly [K in DimensionName]: readonly [string, string | undefined] } = {
  requests: ["requests", "requests"],
  tokens: ["tokens", "tokens"],
  inputTokens: ["input-tokens", undefined],
  outputTokens: ["output-tokens", undefined]
}

// A reset further away than the longest hint anyone is waited for is not believed.
const day = Duration.toMillis(RetryAfter.maxHint)

const number = "(\\d{1,9}(?:\\.\\d{1,9})?)"
const durationPattern = new RegExp(`^(?:${number}h)?(?:${number}m(?!s))?(?:${number}s)?(?:${number}ms)?$`)

const count = (value: string | undefined): number | undefined => {
  if (value === undefined || !/^\d{1,13}$/.test(value)) return undefined
  const n = Number(value)
  return n <= maxCount ? n : undefined
}

const read = (
  limitText: string | undefined,
  remainingText: string | undefined,
  reset: Option.Option<number>
): Dimension | undefined => {
  const limit = count(limitText)
  const given = count(remainingText)
  // More remaining than the limit is a header that cannot be trusted; the limit alone still can.
  const remaining = given !== undefined && limit !== undefined && given > limit ? undefined : given
  if (limit === undefined && remaining === undefined && Option.isNone(reset)) return undefined
  return {
    ...(limit === undefined ? {} : { limit }),
    ...(remaining === undefined ? {} : { remaining }),
    ...(Option.isSome(reset) ? { resetAt: reset.value } : {})
  }
}

// RFC 3339 only (`2026-11-25T04:05:06Z`, fractions and offsets allowed): `Date.parse` takes far more than that.
const rfc3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/i

const resetTime = (value: string | undefined, now: number): Option.Option<number> => {
  if (value === undefined || !rfc3339.test(value)) return Option.none()
  // `Date.parse` rolls 31 February over into March; such a date is garbage, not a time.
  const [year, month, date] = value.slice(0, 10).split("-").map(Number) as [number, number, number]
  const day = new Date(Date.UTC(year, month - 1, date))
  if (day.getUTCMonth() !== month - 1 || day.getUTCDate() !== date) return Option.none()
  return within(Date.parse(value), now)
}

const resetIn = (value: string | undefined, now: number): Option.Option<number> =>
  value === undefined ? Option.none() : Option.flatMap(parseDuration(value), (millis) => within(now + millis, now))

const within = (at: number, now: number): Option.Option<number> =>
  Number.isFinite(at) && at <= now + day ? Option.some(Math.max(at, now)) : Option.none()
