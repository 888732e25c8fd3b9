/**
 * Reading a server's retry hints from response headers.
 *
 * - `retry-after-ms`: milliseconds (OpenAI, Azure OpenAI). Preferred when present.
 * - `retry-after`: delay in seconds (fractional allowed) or an HTTP-date
 *   (RFC 9110: IMF-fixdate, RFC 850 or asctime form), measured against `Clock`.
 * - `x-should-retry`: `true` or `false`, the server's explicit word on
 *   whether to retry, which overrides the status-code rule (as the official
 *   OpenAI and Anthropic SDKs do).
 *
 * Garbage gives `None`, never a throw or a NaN: negative or non-numeric
 * delays, unparseable dates and hints above {@link maxHint} (a day) are
 * ignored, and a date in the past is a zero wait.
 *
 * Header names must be lower-case, as `@effect/platform`'s `Headers` and
 * Node's `IncomingHttpHeaders` have them.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RetryAfter } from "effect-retry-layer"
 *
 * const hint = RetryAfter.parse({ "retry-after": "1.5" }, Date.now()) // Some(1500 millis)
 * const hintNow = RetryAfter.fromHeaders({ "retry-after": "Wed, 21 Oct 2026 07:28:00 GMT" }) // uses Clock
 * RetryAfter.xShouldRetry({ "x-should-retry": "false" }) // Some(false)
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"

/**
 * Lower-case header names to values, e.g. `@effect/platform`'s `Headers`.
 *
 * @category models
 * @since 0.1.0
 */
export type HeaderRecord = Readonly<Record<string, string | ReadonlyArray<string> | undefined>>

/**
 * Hints longer than this are treated as garbage: no server means "retry in a
 * week", and waiting that long is never what a caller wants.
 *
 * @category constants
 * @since 0.1.0
 */
export const maxHint: Duration.Duration = Duration.days(1)

const maxHintMillis = Duration.toMillis(maxHint)

/**
 * A header's (first) value, trimmed. Values are checked, not trusted: records
 * from outside (an SDK's raw response) may hold anything.
 *
 * @category constants
 * @since 0.1.0
 */
export const header = (headers: HeaderRecord, name: string): string | undefined => {
  const value: unknown = headers[name]
  const first: unknown = Array.isArray(value) ? value[0] : value
  return typeof first === "string" ? first.trim() : undefined
}

const decimal = /^\d+(?:\.\d+)?$/

const fromMillis = (millis: number): Option.Option<Duration.Duration> =>
  Number.isFinite(millis) && millis >= 0 && millis <= maxHintMillis
    ? Option.some(Duration.millis(millis))
    : Option.none()

/**
 * Parses a `retry-after-ms` value.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseMillis = (value: string): Option.Option<Duration.Duration> =>
  decimal.test(value.trim()) ? fromMillis(Number(value)) : Option.none()

/**
 * Parses a `retry-after` value: delta seconds or an HTTP-date relative to `now`
 * (epoch milliseconds). A date in the past is a zero wait.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseRetryAfter = (value: string, now: number): Option.Option<Duration.Duration> => {
  const trimmed = value.trim()
  if (decimal.test(trimmed)) return fromMillis(Number(trimmed) * 1000)
  return Option.flatMap(parseHttpDate(trimmed, now), (date) => fromMillis(Math.max(0, date - now)))
}

/**
 * The wait the headers ask for: `retry-after-ms` if it parses, else
 * `retry-after`; `None` if neither gives a sane value.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parse = (headers: HeaderRecord, now: number): Option.Option<Duration.Duration> => {
  const millis = header(headers, "retry-after-ms")
  const fromMs = millis === undefined ? Option.none() : parseMillis(millis)
  if (Option.isSome(fromMs)) return fromMs
  const retryAfter = header(headers, "retry-after")
  return retryAfter === undefined ? Option.none() : parseRetryAfter(retryAfter, now)
}

/**
 * {@link parse} against the current `Clock` time (virtual under `TestClock`).
 *
 * @category parsing
 * @since 0.1.0
 */
export const fromHeaders = (headers: HeaderRecord): Effect.Effect<Option.Option<Duration.Duration>> =>
  Effect.map(Clock.currentTimeMillis, (now) => parse(headers, now))

/**
 * The server's explicit `x-should-retry`, if it said `true` or `false`.
 *
 * @category parsing
 * @since 0.1.0
 */
export const xShouldRetry = (headers: HeaderRecord): Option.Option<boolean> => {
  const value = header(headers, "x-should-retry")?.toLowerCase()
  return value === "true" ? Option.some(true) : value === "false" ? Option.some(false) : Option.none()
}

// HTTP-dates (RFC 9110 section 5.6.7) ----------------------------------------

const months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
const imfFixdate = /^[a-z]{3}, (\d{2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) gmt$/i
const rfc850 = /^[a-z]+, (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) gmt$/i
const asctime = /^[a-z]{3} ([a-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i

/**
 * Epoch milliseconds of an HTTP-date in any of its three forms; `now` (epoch
 * milliseconds) places the two-digit years of the RFC 850 form. `Date.parse`
 * is not used: it accepts far more than HTTP-dates ("1" is the year 2001) and
 * reads asctime dates in local time.
 *
 * @category parsing
 * @since 0.1.0
 */
export const parseHttpDate = (value: string, now: number): Option.Option<number> => {
  let m = imfFixdate.exec(value)
  if (m) return utc(Number(m[3]), m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!)
  m = rfc850.exec(value)
  if (m) {
    // RFC 9110: a two-digit year more than 50 years in the future is in the past century.
    const yy = Number(m[3])
    const thisYear = new Date(now).getUTCFullYear()
    const year = 2000 + yy > thisYear + 50 ? 1900 + yy : 2000 + yy
    return utc(year, m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!)
  }
  m = asctime.exec(value)
  if (m) return utc(Number(m[6]), m[1]!, Number(m[2]!.trim()), m[3]!, m[4]!, m[5]!)
  return Option.none()
}

const utc = (
  year: number,
  monthName: string,
  day: number,
  hour: string,
  minute: string,
  second: string
): Option.Option<number> => {
  const month = months.indexOf(monthName.toLowerCase())
  const [h, min, s] = [Number(hour), Number(minute), Number(second)]
  if (month < 0 || day < 1 || day > 31 || h > 23 || min > 59 || s > 60) return Option.none()
  const millis = Date.UTC(year, month, day, h, min, s)
  // Date.UTC rolls 31 Feb over into March; such a date is garbage, not a date.
  return new Date(millis).getUTCDate() === day ? Option.some(millis) : Option.none()
}
