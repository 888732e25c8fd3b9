import { describe, expect, it } from "@effect/vitest"
import { ModelError, Retryable, RetryPolicy, RetrySchedule } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FastCheck from "effect/FastCheck"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"

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
})

describe("presets", () => {
  it.effect("interactive does not wait for a Retry-After over 2 s (its deadline belongs to whoever runs the call)", () =>
    Effect.gen(function*() {
      const schedule = RetrySchedule.make({ ...RetryPolicy.interactive, maxElapsed: undefined })
      expect(yield* waits(schedule, [ScriptedModel.rateLimited({ retryAfter: "5 seconds" })])).toEqual([])
      expect(millis(yield* waits(schedule, [ScriptedModel.rateLimited({ retryAfter: "1 second" })]))).toHaveLength(1)
    }))
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
