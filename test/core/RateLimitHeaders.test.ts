import { describe, expect, it } from "@effect/vitest"
import { RateLimitHeaders } from "effect-retry-layer"
import * as Option from "effect/Option"
import * as fc from "fast-check"

const now = Date.parse("2026-11-25T04:00:00Z")
const parsed = (headers: Record<string, string>) => Option.getOrUndefined(RateLimitHeaders.parse(headers, now))

describe("RateLimitHeaders.parse", () => {
  it("reads Anthropic's four dimensions, resets as RFC 3339 times", () => {
    expect(parsed({
      "anthropic-ratelimit-requests-limit": "50",
      "anthropic-ratelimit-requests-remaining": "49",
      "anthropic-ratelimit-requests-reset": "2026-11-25T04:00:01Z",
      "anthropic-ratelimit-tokens-limit": "100000",
      "anthropic-ratelimit-tokens-remaining": "98000",
      "anthropic-ratelimit-tokens-reset": "2026-11-25T04:00:00.500Z",
      "anthropic-ratelimit-input-tokens-limit": "80000",
      "anthropic-ratelimit-input-tokens-remaining": "79000",
      "anthropic-ratelimit-input-tokens-reset": "2026-11-25T05:00:00+01:00",
      "anthropic-ratelimit-output-tokens-limit": "20000",
      "anthropic-ratelimit-output-tokens-remaining": "19000",
      "anthropic-ratelimit-output-tokens-reset": "2026-11-25T04:00:06Z"
    })).toEqual({
      requests: { limit: 50, remaining: 49, resetAt: now + 1000 },
      tokens: { limit: 100_000, remaining: 98_000, resetAt: now + 500 },
      inputTokens: { limit: 80_000, remaining: 79_000, resetAt: now },
      outputTokens: { limit: 20_000, remaining: 19_000, resetAt: now + 6000 }
    })
  })

  it("reads OpenAI's, resets as durations", () => {
    expect(parsed({
      "x-ratelimit-limit-requests": "60",
      "x-ratelimit-remaining-requests": "59",
      "x-ratelimit-reset-requests": "1s",
      "x-ratelimit-limit-tokens": "150000",
      "x-ratelimit-remaining-tokens": "149984",
      "x-ratelimit-reset-tokens": "6m0s"
    })).toEqual({
      requests: { limit: 60, remaining: 59, resetAt: now + 1000 },
      tokens: { limit: 150_000, remaining: 149_984, resetAt: now + 360_000 }
    })
  })

  it.each([
    ["1s", 1000],
    ["0.5s", 500],
    ["6m0s", 360_000],
    ["1h2m3s", 3_723_000],
    ["20ms", 20],
    ["1m30.5s", 90_500],
    ["2h", 7_200_000]
  ])("the duration %s is %i ms", (text, millis) => {
    expect(RateLimitHeaders.parseDuration(text)).toStrictEqual(Option.some(millis))
  })

  it.each(["", "s", "1", "-1s", "1d", "1s1m", "1e3s", "25h", "999999999h", "NaNs", "1 s", "1.s"])(
    "refuses the duration %j",
    (text) => {
      expect(RateLimitHeaders.parseDuration(text)).toStrictEqual(Option.none())
    }
  )

  it("ignores each hostile value alone, keeping the good ones beside it", () => {
    expect(parsed({
      "x-ratelimit-limit-requests": "-5",
      "x-ratelimit-remaining-requests": "59",
      "x-ratelimit-reset-requests": "soon",
      "x-ratelimit-limit-tokens": "1e9",
      "x-ratelimit-remaining-tokens": "99999999999999999999",
      "x-ratelimit-reset-tokens": "2s"
    })).toEqual({ requests: { remaining: 59 }, tokens: { resetAt: now + 2000 } })
    expect(parsed({
      "anthropic-ratelimit-requests-limit": "10",
      "anthropic-ratelimit-requests-remaining": "11",
      "anthropic-ratelimit-requests-reset": "2026-02-31T00:00:00Z",
      "anthropic-ratelimit-tokens-reset": "Wed, 25 Nov 2026 04:00:01 GMT",
      "anthropic-ratelimit-input-tokens-reset": "2026-11-27T04:00:00Z",
      "anthropic-ratelimit-output-tokens-reset": "2026-11-24T04:00:00Z"
    })).toEqual({
      // more remaining than the limit: only the limit is believed; 31 February and an HTTP-date are not RFC 3339 times;
      // a reset more than a day away is dropped; one in the past is now
      requests: { limit: 10 },
      outputTokens: { resetAt: now }
    })
    expect(parsed({ "content-type": "text/event-stream" })).toBeUndefined()
  })

  it(
    "never throws, and never yields a negative, non-integer or huge count, or a reset outside [now, now + 1 day]",
    () =>
      fc.assert(fc.property(
        fc.dictionary(
          fc.constantFrom(
            "x-ratelimit-limit-requests",
            "x-ratelimit-remaining-tokens",
            "x-ratelimit-reset-requests",
            "anthropic-ratelimit-tokens-limit",
            "anthropic-ratelimit-requests-reset",
            "anthropic-ratelimit-output-tokens-remaining"
          ),
          fc.oneof(
            fc.string(),
            fc.integer().map(String),
            fc.double().map(String),
            fc.date({ noInvalidDate: true }).map((d) => d.toISOString())
          )
        ),
        (headers) => {
          const state = Option.getOrUndefined(RateLimitHeaders.parse(headers, now)) ?? {}
          for (const dimension of Object.values(state)) {
            for (const n of [dimension.limit, dimension.remaining]) {
              if (n !== undefined) expect(Number.isInteger(n) && n >= 0 && n <= RateLimitHeaders.maxCount).toBe(true)
            }
            if (dimension.resetAt !== undefined) {
              expect(dimension.resetAt >= now && dimension.resetAt <= now + 86_400_000).toBe(true)
            }
          }
        }
      ))
  )
})
