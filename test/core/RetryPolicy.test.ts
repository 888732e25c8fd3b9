// The retry policy (src/core/RetryPolicy.ts) on both Effect lines: its options, its backoff and wait, its
// classification. The schedule it builds is each line's, tested in its own RetrySchedule.test.ts.
import { describe, expect, it } from "@effect/vitest"
import { ModelError, Retryable, RetryPolicy, RetrySchedule } from "effect-retry-layer"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { thrown } from "../support/throws.js"

describe("RetryPolicy", () => {
  it("has the documented defaults", () => {
    const p = RetryPolicy.default
    expect(p.maxAttempts).toBe(3)
    expect(Duration.toMillis(p.baseDelay)).toBe(1000)
    expect(Duration.toMillis(p.maxDelay)).toBe(30_000)
    expect(p.factor).toBe(2)
    expect(p.jitter).toBe("additive")
    expect(p.maxRetryAfter).toBeUndefined()
  })

  it("accepts any DurationInput and jitter as a boolean", () => {
    const p = RetryPolicy.from({
      baseDelay: "250 millis",
      maxDelay: 2000,
      maxRetryAfter: Duration.minutes(1),
      jitter: false
    })
    expect(Duration.toMillis(p.baseDelay)).toBe(250)
    expect(Duration.toMillis(p.maxDelay)).toBe(2000)
    expect(p.maxRetryAfter && Duration.toMillis(p.maxRetryAfter)).toBe(60_000)
    expect(p.jitter).toBe("none")
    expect(RetryPolicy.from({ jitter: true }).jitter).toBe("additive")
  })

  it("refuses an infinite maxDelay (it would wait Infinity once the backoff passed it), and null", () => {
    expect(() => RetryPolicy.from({ maxDelay: Infinity })).toThrow(/maxDelay: expected a finite duration/)
    expect(() => RetrySchedule.policy(null as unknown as RetryPolicy.Input)).toThrow(RetrySchedule.InvalidRetryPolicy)
  })

  it("bounds every hint by a day, whoever gave it: an error's own, or a foreign error's under detectRateLimits", () => {
    class Forever extends Error {
      [Retryable.symbol]() {
        return Retryable.transient(Duration.infinity)
      }
    }
    // the first wait the policy asks for (no jitter)
    const firstWait = (input: RetryPolicy.Input, error: unknown) => {
      const policy = RetryPolicy.from(input)
      return Duration.toMillis(RetrySchedule.delayFor(policy, 1, RetrySchedule.classifyUnder(policy, error), 0))
    }
    const day = Duration.toMillis(Duration.days(1))
    expect(firstWait({ jitter: false }, new Forever())).toBe(day)
    expect(firstWait({ jitter: false, detectRateLimits: true }, { status: 429, retryAfter: 1e9 })).toBe(day)
    // and maxRetryAfter still refuses it before any wait
    expect(RetrySchedule.allowsRetry(RetryPolicy.from({ maxRetryAfter: "1 hour" }), new Forever())).toBe(false)
  })

  const rejected: ReadonlyArray<readonly [string, RetryPolicy.Input, string]> = [
    ["maxAttempts 0", { maxAttempts: 0 }, "maxAttempts"],
    ["fractional maxAttempts", { maxAttempts: 2.5 }, "maxAttempts"],
    ["NaN maxAttempts", { maxAttempts: NaN }, "maxAttempts"],
    ["absurd maxAttempts", { maxAttempts: 1e300 }, "maxAttempts"],
    ["maxAttempts past the bound", { maxAttempts: 1001 }, "maxAttempts"],
    ["negative baseDelay", { baseDelay: -1 }, "baseDelay"],
    ["NaN baseDelay", { baseDelay: NaN }, "baseDelay"],
    ["negative string delay", { baseDelay: "-5 seconds" }, "baseDelay"],
    ["unparseable delay", { maxDelay: "soon" as RetryPolicy.Input["maxDelay"] }, "maxDelay"],
    ["infinite baseDelay", { baseDelay: Infinity, maxDelay: Infinity }, "baseDelay"],
    ["factor below 1", { factor: 0.5 }, "factor"],
    ["NaN factor", { factor: NaN }, "factor"],
    ["infinite factor", { factor: Infinity }, "factor"],
    ["maxDelay below baseDelay", { baseDelay: "2 seconds", maxDelay: "1 second" }, "maxDelay"],
    ["negative maxRetryAfter", { maxRetryAfter: -10 }, "maxRetryAfter"],
    ["zero timeout", { timeout: 0 }, "timeout"],
    ["negative maxElapsed", { maxElapsed: "-1 seconds" }, "maxElapsed"],
    ["unknown commit point", { commitOn: "headers" as "open" }, "commitOn"]
  ]

  it("names the bound of maxAttempts", () => {
    expect((thrown(RetryPolicy.from)({ maxAttempts: 1e300 }) as Error).message).toContain(
      "maxAttempts must be an integer from 1 to 1000, got 1e+300"
    )
    expect(RetryPolicy.from({ maxAttempts: 1000 }).maxAttempts).toBe(1000)
  })

  it.each(rejected)("rejects %s with InvalidRetryPolicy naming the field", (_, input, field) => {
    let thrown: unknown
    try {
      RetryPolicy.from(input)
    } catch (e) {
      thrown = e
    }
    expect(thrown).toBeInstanceOf(RetrySchedule.InvalidRetryPolicy)
    const error = thrown as RetrySchedule.InvalidRetryPolicy
    expect(error._tag).toBe("InvalidRetryPolicy")
    expect(error.issues.some((issue) => issue.path.includes(field))).toBe(true)
    expect(error.message).toContain(field)
  })

  it.effect("decode reports invalid untrusted input in the error channel", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(RetryPolicy.decode({ maxAttempts: "three" }))
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(RetryPolicy.decode(JSON.parse("{\"factor\": -2}")))
      expect(error._tag).toBe("InvalidRetryPolicy")
      const ok = yield* RetryPolicy.decode(JSON.parse("{\"maxAttempts\": 5, \"baseDelay\": \"100 millis\"}"))
      expect(ok.maxAttempts).toBe(5)
    }))

  it("refuses misspelled keys, naming them and what was meant, instead of using the defaults", () => {
    const error = thrown(RetryPolicy.from)(JSON.parse("{\"maxAttempt\": 10, \"basedelay\": \"5 seconds\"}"))
    expect(error).toBeInstanceOf(RetrySchedule.InvalidRetryPolicy)
    const { issues, message } = error as RetrySchedule.InvalidRetryPolicy
    expect(issues.map((issue) => issue.path)).toEqual([["maxAttempt"], ["basedelay"]])
    expect(message).toContain("maxAttempt: unknown option; did you mean maxAttempts?")
    expect(message).toContain("basedelay: unknown option; did you mean baseDelay?")
  })

  it("a hostile input with a huge number of keys gets a short answer", () => {
    const huge = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i]))
    const error = thrown(RetryPolicy.from)(huge) as RetrySchedule.InvalidRetryPolicy
    expect(error.issues).toHaveLength(1)
    expect(error.message).toBe(
      "Invalid retry policy: (policy): 100000 unknown options, among them \"k0\", \"k1\", \"k2\""
    )
  })

  it("refuses null, a non-object and every infinite limit", () => {
    for (const input of [null, "3 attempts", [1, 2]]) {
      expect(thrown(RetryPolicy.from)(input)).toBeInstanceOf(RetrySchedule.InvalidRetryPolicy)
    }
    for (const field of ["maxRetryAfter", "timeout", "maxElapsed", "baseDelay"] as const) {
      expect((thrown(RetryPolicy.from)({ [field]: Infinity, maxDelay: 1 }) as Error).message).toContain(field)
    }
    expect((thrown(RetryPolicy.from)({ maxAttempts: Infinity }) as Error).message).toContain("maxAttempts")
  })

  it("a schedule refuses the call-level fields it could not honour, and says who can", () => {
    for (
      const input of [
        { maxElapsed: "50 millis" },
        { timeout: "1 second" },
        { commitOn: "first-chunk" },
        { untilDeadline: true }
      ] as const
    ) {
      const error = thrown(RetrySchedule.make)(input) as RetrySchedule.InvalidRetryPolicy
      expect(error).toBeInstanceOf(RetrySchedule.InvalidRetryPolicy)
      expect(error.issues[0]!.path).toEqual(Object.keys(input))
      expect(error.message).toMatch(/RetrySchedule\.make cannot honour/)
    }
  })

  it("backoff is O(1) for any retry and capped: a millionth retry is maxDelay", () => {
    expect(Duration.toMillis(RetrySchedule.backoff(RetryPolicy.default, 1_000_000))).toBe(30_000)
    expect(Duration.toMillis(RetrySchedule.backoff(RetryPolicy.from({ baseDelay: 0 }), 1_000_000))).toBe(0)
    expect([1, 2, 3, 6, 7].map((n) => Duration.toMillis(RetrySchedule.backoff(RetryPolicy.default, n)))).toEqual([
      1000,
      2000,
      4000,
      30_000,
      30_000
    ])
  })

  it("RetrySchedule.make validates its input too", () => {
    expect(() => RetrySchedule.make({ maxAttempts: 0 })).toThrow(RetrySchedule.InvalidRetryPolicy)
  })

  it("refuses anything else", () => {
    expect(thrown(RetryPolicy.from)({ retryAfter: "ceiling" })).toBeInstanceOf(
      RetrySchedule.InvalidRetryPolicy
    )
  })
})

describe("presets", () => {
  it("rateLimit: more attempts, longer delays, jittered, rate limits detected", () => {
    const p = RetryPolicy.rateLimit
    expect([p.maxAttempts, Duration.toMillis(p.baseDelay), Duration.toMillis(p.maxDelay), p.jitter]).toEqual([
      8,
      2000,
      60_000,
      "additive"
    ])
    expect(p.maxRetryAfter && Duration.toMillis(p.maxRetryAfter)).toBe(300_000)
    expect(p.detectRateLimits).toBe(true)
  })

  it("interactive: short waits, few attempts, a deadline", () => {
    const p = RetryPolicy.interactive
    expect([p.maxAttempts, Duration.toMillis(p.baseDelay), Duration.toMillis(p.maxDelay)]).toEqual([2, 250, 1000])
    expect(p.maxRetryAfter && Duration.toMillis(p.maxRetryAfter)).toBe(2000)
    expect(p.maxElapsed && Duration.toMillis(p.maxElapsed)).toBe(15_000)
  })

  it("presets are starting points: spread one and change a field", () => {
    const p = RetryPolicy.from({ ...RetryPolicy.rateLimit, maxAttempts: 12 })
    expect([p.maxAttempts, p.detectRateLimits]).toEqual([12, true])
  })
})

describe("classifyUnder", () => {
  it.each([
    ["a status of 429", { status: 429, message: "nope" }],
    ["a statusCode of 429", { statusCode: 429 }],
    ["a response status of 429", { response: { status: 429 } }],
    ["a 503", { status: 503 }],
    ["a throttling name", Object.assign(new Error("x"), { name: "ThrottlingException" })],
    ["a rate-limit code", { code: "rate_limit_exceeded" }]
  ])("retries %s out of the box (ForeignError recognises it)", (_, error) => {
    expect(RetrySchedule.classifyUnder(RetryPolicy.default, error)._tag).toBe("Transient")
  })

  it.each([
    ["an Error saying rate limit", new Error("Rate limit exceeded for model")],
    ["an Error saying throttled", new Error("Request was throttled")],
    ["an Error saying too many requests", new Error("429 Too Many Requests")]
  ])("retries %s only under detectRateLimits (a message is a guess)", (_, error) => {
    expect(RetrySchedule.classifyUnder(RetryPolicy.rateLimit, error)._tag).toBe("Transient")
    expect(RetrySchedule.classifyUnder(RetryPolicy.default, error)._tag).toBe("Permanent")
  })

  it.each([
    ["a plain error", new Error("boom")],
    ["a 400", { status: 400, message: "rate limit" }],
    ["a string", "rate limit"]
  ])("does not retry %s, even under rateLimit", (_, error) => {
    expect(RetrySchedule.classifyUnder(RetryPolicy.rateLimit, error)._tag).toBe("Permanent")
  })

  it("reads the error's own hint, or the delta forms of its headers", () => {
    const hintOf = (error: unknown) => {
      const c = RetrySchedule.classifyUnder(RetryPolicy.default, error)
      return c._tag === "Transient" ? Option.map(c.retryAfter, Duration.toMillis) : Option.none()
    }
    expect(hintOf({ status: 429, retryAfter: 3 })).toStrictEqual(Option.some(3000))
    expect(hintOf({ status: 429, headers: { "retry-after-ms": "250" } })).toStrictEqual(Option.some(250))
    expect(hintOf({ response: { status: 429, headers: { "Retry-After": "2" } } })).toStrictEqual(Option.some(2000))
    expect(hintOf({ status: 429, headers: { "retry-after": "Wed, 21 Oct 2026 07:28:00 GMT" } })).toStrictEqual(
      Option.none()
    )
    expect(hintOf(new Error("boom"))).toStrictEqual(Option.none())
  })

  it("an error's own classification wins: a Retryable permanent error is not second-guessed", () => {
    const permanentButWordy = new ModelError.InvalidRequestError({ provider: "p", message: "rate limit exceeded" })
    expect(RetrySchedule.classifyUnder(RetryPolicy.rateLimit, permanentButWordy)._tag).toBe("Permanent")
  })
})
