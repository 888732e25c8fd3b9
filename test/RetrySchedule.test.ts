import { describe, expect, it } from "@effect/vitest"
import { ModelError, Retryable, RetryPolicy, RetrySchedule } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import { thrown } from "./support/thrown.js"

/** Steps a schedule through `inputs` the way `Effect.retry` would, without sleeping. */
const steps = <E>(schedule: Schedule.Schedule<RetrySchedule.RetryStep<E>, E>, inputs: ReadonlyArray<E>) =>
  Effect.map(Schedule.run(schedule, 0, inputs), Chunk.toReadonlyArray)

/** The waits before each retry the schedule allows (the stopping step, if any, is not a wait). */
const waits = <E>(schedule: Schedule.Schedule<RetrySchedule.RetryStep<E>, E>, inputs: ReadonlyArray<E>) =>
  Effect.suspend(() => {
    const continued: Array<Duration.Duration> = []
    const recording = Schedule.onDecision(schedule, (step, decision) =>
      Effect.sync(() => {
        if (decision._tag === "Continue") continued.push(step.delay)
      }))
    return Effect.as(Schedule.run(recording, 0, inputs), continued)
  })

const millis = (ds: ReadonlyArray<Duration.Duration>) => ds.map(Duration.toMillis)

const transients = (n: number, options?: ScriptedModel.ErrorOptions) =>
  Array.from({ length: n }, () => ScriptedModel.serverError(options))

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

  it.effect("bounds every hint by a day, whoever gave it: an error's own, or a foreign error's under detectRateLimits", () =>
    Effect.gen(function*() {
      class Forever extends Error {
        [Retryable.symbol]() {
          return Retryable.transient(Duration.infinity)
        }
      }
      // the schedule's first step, without sleeping it
      const firstWait = (policy: RetryPolicy.Input, error: unknown) => {
        const schedule = RetrySchedule.make(policy)
        return Effect.map(schedule.step(0, error, schedule.initial), ([, step]) => Duration.toMillis(step.delay))
      }
      const day = Duration.toMillis(Duration.days(1))
      expect(yield* firstWait({ jitter: false }, new Forever())).toBe(day)
      expect(yield* firstWait({ jitter: false, detectRateLimits: true }, { status: 429, retryAfter: 1e9 })).toBe(day)
      // and maxRetryAfter still refuses it before any wait
      expect(RetrySchedule.allowsRetry(RetryPolicy.from({ maxRetryAfter: "1 hour" }), new Forever())).toBe(false)
    }))

  const rejected: ReadonlyArray<readonly [string, RetryPolicy.Input, string]> = [
    ["maxAttempts 0", { maxAttempts: 0 }, "maxAttempts"],
    ["fractional maxAttempts", { maxAttempts: 2.5 }, "maxAttempts"],
    ["NaN maxAttempts", { maxAttempts: NaN }, "maxAttempts"],
    ["absurd maxAttempts", { maxAttempts: 1e300 }, "maxAttempts"],
    ["maxAttempts past the bound", { maxAttempts: 1001 }, "maxAttempts"],
    ["negative baseDelay", { baseDelay: -1 }, "baseDelay"],
    ["NaN baseDelay", { baseDelay: NaN }, "baseDelay"],
    ["negative string delay", { baseDelay: "-5 seconds" }, "baseDelay"],
    ["unparseable delay", { maxDelay: "soon" as Duration.DurationInput }, "maxDelay"],
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
    for (const input of [{ maxElapsed: "50 millis" }, { timeout: "1 second" }, { commitOn: "first-chunk" }] as const) {
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
})

describe("retryAfter: floor or exact", () => {
  const hinted = (ms: number) => ScriptedModel.rateLimited({ retryAfter: ms })

  it.effect("floor (the default) waits the larger of the backoff and the hint", () =>
    Effect.gen(function*() {
      const ws = yield* waits(RetrySchedule.make({ maxAttempts: 3, jitter: false }), [hinted(300), hinted(300)])
      expect(millis(ws)).toEqual([1000, 2000])
    }))

  it.effect("exact waits the hint alone when there is one, the backoff when there is not", () =>
    Effect.gen(function*() {
      const policy = { maxAttempts: 4, jitter: false, retryAfter: "exact" } as const
      const ws = yield* waits(RetrySchedule.make(policy), [hinted(300), hinted(300), ScriptedModel.serverError()])
      expect(millis(ws)).toEqual([300, 300, 4000])
    }))

  it.effect("exact is still jittered only upwards", () =>
    Effect.gen(function*() {
      const ws = millis(yield* waits(RetrySchedule.make({ maxAttempts: 2, retryAfter: "exact" }), [hinted(300)]))
      expect(ws[0]).toBeGreaterThanOrEqual(300)
      expect(ws[0]).toBeLessThan(330)
    }))

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

  it.effect("interactive does not wait for a Retry-After over 2 s (its deadline belongs to whoever runs the call)", () =>
    Effect.gen(function*() {
      const schedule = RetrySchedule.make({ ...RetryPolicy.interactive, maxElapsed: undefined })
      expect(yield* waits(schedule, [ScriptedModel.rateLimited({ retryAfter: "5 seconds" })])).toEqual([])
      expect(millis(yield* waits(schedule, [ScriptedModel.rateLimited({ retryAfter: "1 second" })]))).toHaveLength(1)
    }))
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
    const permanentButWordy = ScriptedModel.invalidRequest({ message: "rate limit exceeded" })
    expect(RetrySchedule.classifyUnder(RetryPolicy.rateLimit, permanentButWordy)._tag).toBe("Permanent")
  })
})

describe("RetrySchedule.make", () => {
  const exact = { baseDelay: "10 millis", maxDelay: "40 millis", jitter: false } as const

  it.effect("grows exponentially then caps at maxDelay: 10, 20, 40, 40 ms", () =>
    Effect.gen(function*() {
      const schedule = RetrySchedule.make({ ...exact, maxAttempts: 5 })
      expect(millis(yield* waits(schedule, transients(5)))).toEqual([10, 20, 40, 40])
    }))

  it.effect("recurs at most maxAttempts - 1 times and numbers the failed attempts", () =>
    Effect.gen(function*() {
      const out = yield* steps(RetrySchedule.make({ ...exact, maxAttempts: 3 }), transients(10))
      // two retries, then the stopping step for the third failure
      expect(out.map((s) => s.attempt)).toEqual([1, 2, 3])
      expect(millis(out.map((s) => s.delay))).toEqual([10, 20, 0])
    }))

  it.effect("each step carries the failure's classification, made once as the failure came in", () =>
    Effect.gen(function*() {
      let classified = 0
      const hinted = {
        [Retryable.symbol]: () => {
          classified++
          return Retryable.transient(Duration.millis(35))
        }
      }
      const out = yield* steps(RetrySchedule.make({ ...exact, maxAttempts: 3 }), [hinted, hinted])
      expect(out.map((s) => s.classification)).toEqual([
        Retryable.transient(Duration.millis(35)),
        Retryable.transient(Duration.millis(35))
      ])
      expect(millis(out.map((s) => s.delay))).toEqual([35, 35])
      expect(classified).toBe(2)
    }))

  it.effect("maxAttempts 1 disables retries", () =>
    Effect.gen(function*() {
      expect(yield* waits(RetrySchedule.make({ maxAttempts: 1 }), transients(3))).toEqual([])
    }))

  it.effect("stops at once on a permanent error", () =>
    Effect.gen(function*() {
      const out = yield* steps(RetrySchedule.make<ModelError.ModelError>(exact), [
        ScriptedModel.invalidRequest(),
        ScriptedModel.serverError()
      ])
      expect(out).toHaveLength(1)
      expect(out[0]?.error._tag).toBe("InvalidRequestError")
    }))

  it.effect("treats errors that do not classify themselves as permanent", () =>
    Effect.gen(function*() {
      expect(yield* waits(RetrySchedule.make<unknown>(exact), [new Error("boom"), "nope", undefined])).toEqual([])
    }))

  it.effect("uses retryAfter as a floor, even past maxDelay", () =>
    Effect.gen(function*() {
      const schedule = RetrySchedule.make({ ...exact, maxAttempts: 4 })
      const inputs = [
        ScriptedModel.rateLimited({ retryAfter: "5 millis" }), // below the backoff: backoff wins
        ScriptedModel.rateLimited({ retryAfter: "35 millis" }), // above the backoff: the hint wins
        ScriptedModel.rateLimited({ retryAfter: "1 second" }) // above maxDelay: still honoured
      ]
      expect(millis(yield* waits(schedule, inputs))).toEqual([10, 35, 1000])
    }))

  it.effect("does not wait for a retryAfter above maxRetryAfter", () =>
    Effect.gen(function*() {
      const schedule = RetrySchedule.make({ ...exact, maxRetryAfter: "1 second" })
      expect(millis(yield* waits(schedule, [ScriptedModel.rateLimited({ retryAfter: "1 second" })]))).toEqual([1000])
      expect(yield* waits(schedule, [ScriptedModel.rateLimited({ retryAfter: "1001 millis" })])).toEqual([])
    }))

  it.effect("an explicit x-should-retry overrides the default classification", () =>
    Effect.gen(function*() {
      const schedule = RetrySchedule.make(exact)
      const retryableBadRequest = new ModelError.InvalidRequestError({
        provider: "p",
        message: "m",
        status: 400,
        shouldRetry: true
      })
      const doNotRetry = new ModelError.ServerError({ provider: "p", message: "m", status: 503, shouldRetry: false })
      expect(millis(yield* waits(schedule, [retryableBadRequest]))).toEqual([10])
      expect(yield* waits(schedule, [doNotRetry])).toEqual([])
    }))

  describe("jitter", () => {
    const jittered = RetrySchedule.make({ baseDelay: "100 millis", maxDelay: "1 second", maxAttempts: 6 })
    const base = [100, 200, 400, 800, 1000]

    it.effect("only adds, at most 10%", () =>
      Effect.gen(function*() {
        const ws = millis(yield* waits(jittered, transients(6)))
        expect(ws).toHaveLength(5)
        ws.forEach((w, i) => {
          expect(w).toBeGreaterThanOrEqual(base[i]!)
          expect(w).toBeLessThanOrEqual(base[i]! * 1.1)
        })
      }))

    it.effect("spans [d, 1.1 d] at the extremes of Random", () =>
      Effect.gen(function*() {
        const low = yield* waits(jittered, transients(6)).pipe(Effect.withRandom(Random.fixed([0])))
        const high = yield* waits(jittered, transients(6)).pipe(Effect.withRandom(Random.fixed([0.999999])))
        expect(millis(low)).toEqual(base)
        millis(high).forEach((w, i) => expect(w).toBeCloseTo(base[i]! * 1.1, 2))
      }))

    it.effect("adds to the Retry-After floor, never below it", () =>
      Effect.gen(function*() {
        const ws = yield* waits(jittered, [ScriptedModel.rateLimited({ retryAfter: "3 seconds" })]).pipe(
          Effect.withRandom(Random.fixed([0.5]))
        )
        expect(millis(ws)).toEqual([3150])
      }))

    it.effect("is reproducible with a seeded Random, and differs between seeds", () =>
      Effect.gen(function*() {
        const run = (seed: number) => waits(jittered, transients(6)).pipe(Effect.withRandom(Random.make(seed)))
        const a = millis(yield* run(42))
        expect(millis(yield* run(42))).toEqual(a)
        expect(millis(yield* run(43))).not.toEqual(a)
      }))
  })

  it.effect("composes with Effect's own Schedule combinators", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const schedule = RetrySchedule.make<ModelError.ModelError>({ ...exact, maxAttempts: 10 }).pipe(
        Schedule.tapInput((e: ModelError.ModelError) => Effect.sync(() => seen.push(e._tag))),
        Schedule.intersect(Schedule.recurs(1)),
        Schedule.map(([step]) => step)
      )
      // the tighter limit of the two wins: one retry, i.e. two steps seen
      expect(yield* waits(schedule, transients(5))).toHaveLength(1)
      expect(seen).toEqual(["ServerError", "ServerError"])
    }))

  const arbitraryPolicy = FastCheck.record({
    maxAttempts: FastCheck.integer({ min: 1, max: 8 }),
    baseDelay: FastCheck.integer({ min: 0, max: 1000 }),
    extra: FastCheck.integer({ min: 0, max: 5000 }),
    factor: FastCheck.double({ min: 1, max: 4, noNaN: true }),
    jitter: FastCheck.boolean()
  })
  const arbitraryError = FastCheck.oneof(
    FastCheck.constant<ModelError.ModelError>(ScriptedModel.invalidRequest()),
    FastCheck.constant<ModelError.ModelError>(ScriptedModel.serverError()),
    FastCheck.integer({ min: 0, max: 60_000 }).map((ms) => ScriptedModel.rateLimited({ retryAfter: ms }))
  )

  it.effect.prop(
    "waits within [max(backoff, retryAfter), 1.1 x that] and stops on the first permanent error or after maxAttempts",
    [arbitraryPolicy, FastCheck.array(arbitraryError, { minLength: 1, maxLength: 12 })],
    ([p, errors]) =>
      Effect.gen(function*() {
        const { extra, ...fields } = p
        const policy = RetryPolicy.from({ ...fields, maxDelay: p.baseDelay + extra })
        const ws = millis(yield* waits(RetrySchedule.make(policy), errors))
        const firstPermanent = errors.findIndex((e) => e._tag === "InvalidRequestError")
        const retries = Math.min(
          policy.maxAttempts - 1,
          firstPermanent === -1 ? errors.length : firstPermanent
        )
        expect(ws).toHaveLength(retries)
        ws.forEach((w, i) => {
          const backoff = Math.min(p.baseDelay * Math.pow(p.factor, i), p.baseDelay + p.extra)
          const hint = errors[i]!.retryAfter ? Duration.toMillis(errors[i]!.retryAfter!) : 0
          const floor = Math.max(backoff, hint)
          expect(w).toBeGreaterThanOrEqual(floor - 1e-6)
          expect(w).toBeLessThanOrEqual(p.jitter ? floor * 1.1 + 1e-6 : floor + 1e-6)
        })
      })
  )
})
