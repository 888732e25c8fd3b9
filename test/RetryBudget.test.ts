import * as RateLimiter from "@effect/experimental/RateLimiter"
import { describe, expect, it } from "@effect/vitest"
import type { CompletionModel } from "effect-retry-layer"
import { ModelError, Retryable, RetryBudget, RetryingModel } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import { failure } from "./support/chat.js"
import { redisAvailable, redisServer, redisStore, uniquePrefix } from "./support/redis.js"

const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "Hi" }] }
const exact = { maxAttempts: 3, baseDelay: "10 millis", maxDelay: "100 millis", jitter: false } as const

/** A model that fails every call with `error` (or succeeds, while `succeed` says so), counting calls. */
const counting = (error: () => ModelError.ModelError) => {
  const state = { calls: 0, succeed: false }
  const service: CompletionModel.Service = {
    name: "counting",
    model: "m",
    chatStream: () =>
      Effect.suspend(() => {
        state.calls++
        return state.succeed ? Effect.succeed(Stream.fromIterable(ScriptedModel.reply("ok"))) : Effect.fail(error())
      })
  }
  return { service, state }
}

/** `n` concurrent calls, run in virtual time until all have ended. */
const fleet = (model: CompletionModel.Service, n: number) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(
      Effect.forEach(Array.from({ length: n }), () => Effect.exit(model.chatStream(request)), {
        concurrency: "unbounded"
      })
    )
    yield* TestClock.adjust("1 minute")
    return yield* Fiber.join(fiber)
  })

const withMemoryStore = Effect.provide(RateLimiter.layerStoreMemory)

describe("RetryBudget", () => {
  describe("bounds the load under total failure (1,000 calls, maxAttempts 3)", () => {
    const cases = [
      ["AWS quota, server errors (14 per retry)", RetryBudget.awsQuota, ScriptedModel.transient, 1_000 + 35],
      ["AWS quota, throttling (5 per retry)", RetryBudget.awsQuota, ScriptedModel.rateLimited, 1_000 + 100],
      ["gRPC throttling", RetryBudget.grpcThrottling, ScriptedModel.transient, 1_000 + 4]
    ] as const

    it.effect.each(cases)("%s", ([, policy, error, expectedCalls]) =>
      Effect.gen(function*() {
        const budget = yield* RetryBudget.make({ policy })
        const { service, state } = counting(() => error())
        const exits = yield* fleet(RetryingModel.make(service, exact, { budget }), 1_000)
        expect(state.calls).toBe(expectedCalls)
        expect(state.calls / 1_000).toBeLessThanOrEqual(1.1)
        const refused = exits.map(failure).filter((e) => e?._tag === "RetryBudgetExhaustedError")
        expect(refused.length).toBeGreaterThan(900)
        // returned as a transient error that says why and keeps the failure
        const first = refused[0]!
        expect(Retryable.isTransient(first)).toBe(true)
        expect(first.message).toContain("retry budget \"default\" exhausted")
        expect((first as { cause?: unknown }).cause).toBeInstanceOf(
          error === ScriptedModel.rateLimited ? ModelError.RateLimitError : ModelError.ServerError
        )
      }).pipe(withMemoryStore))
  })

  it.effect("without a budget the same outage costs 3x the calls", () =>
    Effect.gen(function*() {
      const { service, state } = counting(() => ScriptedModel.transient())
      yield* fleet(RetryingModel.make(service, exact), 200)
      expect(state.calls).toBe(600)
    }).pipe(Logger.withMinimumLogLevel(LogLevel.None)))

  it.effect("refills as calls succeed, and admits retries again (AWS quota)", () =>
    Effect.gen(function*() {
      const policy = RetryBudget.Policy.Quota({
        capacity: 20,
        retryCost: 10,
        throttlingRetryCost: 5,
        noRetryIncrement: 1
      })
      const budget = yield* RetryBudget.make({ policy })
      const { service, state } = counting(() => ScriptedModel.transient())
      const model = RetryingModel.make(service, { ...exact, maxAttempts: 2 }, { budget })
      yield* fleet(model, 2) // two calls, one retry each: 20 -> 0
      expect(yield* budget.balance).toBe(0)
      const refused = yield* fleet(model, 1)
      expect(failure(refused[0]!)?._tag).toBe("RetryBudgetExhaustedError")
      state.succeed = true
      yield* fleet(model, 10) // ten first-time successes: +1 each
      expect(yield* budget.balance).toBe(10)
      // a failure is retried again, and the success after it pays the retry back
      let failNext = true
      const flaky = RetryingModel.make(
        {
          ...service,
          // decided when the attempt runs: the retry layer re-runs the effect chatStream returned
          chatStream: (r) =>
            Effect.suspend(() =>
              failNext ? (failNext = false, Effect.fail(ScriptedModel.transient())) : service.chatStream(r)
            )
        },
        { ...exact, maxAttempts: 2 },
        { budget }
      )
      const [exit] = yield* fleet(flaky, 1)
      expect(Exit.isSuccess(exit!)).toBe(true)
      expect(yield* budget.balance).toBe(10)
    }).pipe(withMemoryStore))

  it.effect("gRPC policy: refuses once half the tokens are gone, refills 0.1 per success", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ policy: RetryBudget.grpcThrottling })
      const error = ScriptedModel.transient()
      expect(yield* Effect.all([1, 2, 3, 4, 5].map(() => budget.admit(error)))).toEqual([true, true, true, true, false])
      expect(yield* budget.balance).toBe(5)
      yield* Effect.all(Array.from({ length: 20 }, () => budget.recordSuccess(undefined)))
      expect(yield* budget.balance).toBeCloseTo(7, 10)
      expect(yield* budget.admit(error)).toBe(true)
    }).pipe(withMemoryStore))

  it.effect("callers of one store and key share one budget; another key has its own", () =>
    Effect.gen(function*() {
      const a = yield* RetryBudget.make({ key: "shared" })
      const b = yield* RetryBudget.make({ key: "shared" })
      const other = yield* RetryBudget.make({ key: "other" })
      yield* a.admit(ScriptedModel.transient())
      expect(yield* b.balance).toBe(486)
      expect(yield* other.balance).toBe(500)
    }).pipe(withMemoryStore))

  it.effect("lets retries through, with a warning, when the store fails", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make()
      expect(yield* budget.admit(ScriptedModel.transient())).toBe(true)
      yield* budget.recordSuccess(undefined)
    }).pipe(Effect.provide(Layer.succeed(RateLimiter.RateLimiterStore, {
      fixedWindow: () => Effect.fail(new RateLimiter.RateLimitStoreError({ message: "down" })),
      tokenBucket: () => Effect.fail(new RateLimiter.RateLimitStoreError({ message: "down" }))
    }))))

  it.scoped.skipIf(!redisAvailable)(
    "two runtimes sharing the Redis store see one budget",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const prefix = uniquePrefix("budget")
        // Two runtimes, each with its own Redis connection, as two processes would have.
        const runtime = () =>
          ManagedRuntime.make(RetryBudget.layer({ key: "fleet" }).pipe(Layer.provide(redisStore(server, prefix))))
        const [a, b] = [runtime(), runtime()]
        yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all([a.dispose(), b.dispose()])))
        const inA = <X>(f: (budget: RetryBudget.Service) => Effect.Effect<X>) =>
          Effect.promise(() => a.runPromise(Effect.flatMap(RetryBudget.RetryBudget, f)))
        const inB = <X>(f: (budget: RetryBudget.Service) => Effect.Effect<X>) =>
          Effect.promise(() => b.runPromise(Effect.flatMap(RetryBudget.RetryBudget, f)))
        const throttled = ScriptedModel.rateLimited()
        // A spends 60 retries' worth, B the other 40: 500 tokens at 5 a retry
        for (let i = 0; i < 60; i++) expect(yield* inA((budget) => budget.admit(throttled))).toBe(true)
        for (let i = 0; i < 40; i++) expect(yield* inB((budget) => budget.admit(throttled))).toBe(true)
        expect(yield* inA((budget) => budget.admit(throttled))).toBe(false)
        expect(yield* inB((budget) => budget.admit(throttled))).toBe(false)
        // successes in A are tokens for B
        yield* inA((budget) => Effect.all(Array.from({ length: 5 }, () => budget.recordSuccess(undefined))))
        expect(yield* inB((budget) => budget.balance)).toBe(5)
        expect(yield* inB((budget) => budget.admit(throttled))).toBe(true)
      })
  )
})
