import { describe, expect, it } from "@effect/vitest"
import { RetryAfter } from "effect-retry-layer"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fc from "fast-check"
import { TestClock } from "../support/line.js"

const now = Date.UTC(2026, 10, 24, 12, 0, 0) // Tue, 24 Nov 2026 12:00:00 GMT
const ms = (o: Option.Option<Duration.Duration>) => Option.map(o, Duration.toMillis)

describe("RetryAfter.parse", () => {
  const cases: ReadonlyArray<readonly [string, RetryAfter.HeaderRecord, Option.Option<number>]> = [
    ["integer seconds", { "retry-after": "1" }, Option.some(1000)],
    ["fractional seconds", { "retry-after": "1.5" }, Option.some(1500)],
    ["zero", { "retry-after": "0" }, Option.some(0)],
    ["surrounding whitespace", { "retry-after": "  2 " }, Option.some(2000)],
    ["IMF-fixdate ahead", { "retry-after": "Tue, 24 Nov 2026 12:00:30 GMT" }, Option.some(30_000)],
    ["IMF-fixdate, any case", { "retry-after": "tue, 24 nov 2026 12:00:30 gmt" }, Option.some(30_000)],
    ["RFC 850 date", { "retry-after": "Tuesday, 24-Nov-26 12:01:00 GMT" }, Option.some(60_000)],
    ["asctime date, read as GMT", { "retry-after": "Tue Nov 24 12:00:05 2026" }, Option.some(5_000)],
    ["asctime date, one-digit day", { "retry-after": "Sun Nov  1 00:00:00 2026" }, Option.some(0)],
    ["date in the past is a zero wait", { "retry-after": "Tue, 24 Nov 2026 11:00:00 GMT" }, Option.some(0)],
    ["retry-after-ms", { "retry-after-ms": "250" }, Option.some(250)],
    ["retry-after-ms wins over retry-after", { "retry-after-ms": "250", "retry-after": "3" }, Option.some(250)],
    ["garbage retry-after-ms falls back", { "retry-after-ms": "soon", "retry-after": "3" }, Option.some(3000)],
    ["array-valued header takes the first", { "retry-after": ["4", "9"] }, Option.some(4000)],
    ["no header", {}, Option.none()],
    ["empty", { "retry-after": "" }, Option.none()],
    ["negative", { "retry-after": "-1" }, Option.none()],
    ["negative ms", { "retry-after-ms": "-100" }, Option.none()],
    ["NaN", { "retry-after": "NaN" }, Option.none()],
    ["Infinity", { "retry-after": "Infinity" }, Option.none()],
    ["exponent notation", { "retry-after": "1e3" }, Option.none()],
    ["number with unit", { "retry-after": "10s" }, Option.none()],
    ["absurdly large", { "retry-after": "99999999999" }, Option.none()],
    ["more than a day", { "retry-after": "86401" }, Option.none()],
    ["exactly a day", { "retry-after": "86400" }, Option.some(86_400_000)],
    ["a date more than a day ahead", { "retry-after": "Tue, 01 Dec 2026 12:00:00 GMT" }, Option.none()],
    ["a date Date.parse would accept", { "retry-after": "2026-11-24T12:00:30Z" }, Option.none()],
    ["a lone word Date.parse would accept", { "retry-after": "December 17, 2026" }, Option.none()],
    ["31 February", { "retry-after": "Tue, 31 Feb 2026 12:00:00 GMT" }, Option.none()],
    ["25 o'clock", { "retry-after": "Tue, 24 Nov 2026 25:00:00 GMT" }, Option.none()],
    ["unknown month", { "retry-after": "Tue, 24 Foo 2026 12:00:00 GMT" }, Option.none()]
  ]

  it.each(cases)("%s", (_, headers, expected) => {
    expect(ms(RetryAfter.parse(headers, now))).toStrictEqual(expected)
  })

  it("never throws and never gives a negative, NaN or over-a-day wait", () =>
    fc.assert(fc.property(
      fc.dictionary(
        fc.constantFrom("retry-after", "retry-after-ms", "x-other"),
        fc.oneof(
          fc.string(),
          fc.double().map(String),
          fc.integer().map(String),
          fc.date({ noInvalidDate: true }).map((d) => d.toUTCString())
        )
      ),
      fc.integer({ min: 0, max: 4_102_444_800_000 }),
      (headers, at) => {
        const result = RetryAfter.parse(headers, at)
        if (Option.isSome(result)) {
          const millis = Duration.toMillis(result.value)
          expect(Number.isNaN(millis)).toBe(false)
          expect(millis).toBeGreaterThanOrEqual(0)
          expect(millis).toBeLessThanOrEqual(Duration.toMillis(RetryAfter.maxHint))
        }
      }
    )))

  it("an HTTP-date round-trips to the wait until it", () =>
    fc.assert(fc.property(fc.integer({ min: 0, max: 86_400 }), (seconds) => {
      const date = new Date(now + seconds * 1000).toUTCString()
      expect(ms(RetryAfter.parse({ "retry-after": date }, now))).toStrictEqual(Option.some(seconds * 1000))
    })))

  it.effect("fromHeaders measures dates against Clock (virtual time here)", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(now)
      const hint = yield* RetryAfter.fromHeaders({ "retry-after": "Tue, 24 Nov 2026 12:00:10 GMT" })
      expect(ms(hint)).toStrictEqual(Option.some(10_000))
    }))
})

describe("RetryAfter.xShouldRetry", () => {
  it.each(
    [
      ["true", Option.some(true)],
      ["false", Option.some(false)],
      ["TRUE", Option.some(true)],
      [" false ", Option.some(false)],
      ["yes", Option.none()],
      ["1", Option.none()],
      ["", Option.none()]
    ] as const
  )("x-should-retry: %j", (value, expected) => {
    expect(RetryAfter.xShouldRetry({ "x-should-retry": value })).toStrictEqual(expected)
  })

  it("is None without the header", () => {
    expect(RetryAfter.xShouldRetry({})).toStrictEqual(Option.none())
  })
})
