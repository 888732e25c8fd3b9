import { describe, expect, it } from "@effect/vitest"
import type { CompletionModel } from "effect-retry-layer"
import { FleetStore, InvalidOptions, ModelError, Retryable, RetryBudget, RetryingModel } from "effect-retry-layer"
import { FleetStoreRedis } from "effect-retry-layer/redis"
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
import { failureOf } from "./support/thrown.js"

const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "Hi" }] }
const exact = { maxAttempts: 3, baseDelay: "10 millis", maxDelay: "100 millis", jitter: false } as const

/** A model whose attempt `n` (counted across calls) fails with `fails(n)`'s error, or succeeds. */
const counting = (fails: (attempt: number) => ModelError.ModelError | undefined) => {
  const state = { calls: 0 }
  const service: CompletionModel.Service = {
    name: "counting",
    model: "m",
    chatStream: () =>
      Effect.suspend(() => {
        const error = fails(state.calls++)
        return error === undefined ? Effect.succeed(Stream.fromIterable(ScriptedModel.reply("ok"))) : Effect.fail(error)
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

const quiet = Logger.withMinimumLogLevel(LogLevel.None)
const memory = Effect.provide(FleetStore.layerMemory)

describe("RetryBudget", () => {
  it.effect("bounds the load under total failure: 1,000 calls, 3 attempts -> 1.6 calls each, not 3", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make()
      const { service, state } = counting(() => ScriptedModel.serverError())
      const exits = yield* fleet(RetryingModel.make(service, exact, { budget }), 1_000)
      // 0.5 x 1,000 first attempts + 10/s x 10 s = 600 retries
      expect(state.calls).toBe(1_600)
      const refused = exits.map(failure).filter((e) => e?._tag === "RetryBudgetExhaustedError")
      expect(refused.length).toBeGreaterThan(700)
      // returned as a transient error that says why and keeps the failure
      const first = refused[0]!
      expect(Retryable.isTransient(first)).toBe(true)
      expect(first.message).toContain("retry budget \"default\" exhausted")
      expect((first as { cause?: unknown }).cause).toBeInstanceOf(ModelError.ServerError)
    }).pipe(memory, quiet))

  it.effect("without a budget the same outage costs 3 calls each", () =>
    Effect.gen(function*() {
      const { service, state } = counting(() => ScriptedModel.serverError())
      yield* fleet(RetryingModel.make(service, exact), 200)
      expect(state.calls).toBe(600)
    }).pipe(quiet))

  it.effect("lets a failure rate that retries cure pass untouched: 30% of attempts failing, no retry refused", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make()
      // 3 of every 10 attempts fail, spread evenly
      const { service } = counting((n) => (n * 7) % 10 < 3 ? ScriptedModel.serverError() : undefined)
      const exits = yield* fleet(RetryingModel.make(service, exact, { budget }), 2_000)
      expect(exits.map(failure).filter((e) => e?._tag === "RetryBudgetExhaustedError")).toEqual([])
      // what the retries alone achieve: 0.3^3 x 2,000 = 54 calls fail all three attempts
      expect(exits.filter(Exit.isSuccess).length).toBe(1_946)
    }).pipe(memory, quiet))

  it.effect("throttling and an open circuit cost nothing: 1,000 429s are all retried with no allowance at all", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ ratio: 0, minPerSecond: 0 })
      const { service, state } = counting((n) => n < 1_000 ? ScriptedModel.rateLimited() : undefined)
      const exits = yield* fleet(RetryingModel.make(service, exact, { budget }), 1_000)
      expect(exits.every(Exit.isSuccess)).toBe(true)
      expect(state.calls).toBe(2_000)
      expect(yield* budget.admit(new ModelError.CircuitOpenError({ provider: "p", message: "open" }))).toBe(true)
      expect(yield* budget.admit(ScriptedModel.overloaded())).toBe(true)
      expect(yield* budget.admit(ScriptedModel.serverError())).toBe(false)
    }).pipe(memory, quiet))

  it.effect("the window moves: first attempts older than `window` no longer pay for retries", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ minPerSecond: 0, window: "10 seconds" })
      yield* Effect.all(Array.from({ length: 10 }, () => budget.firstAttempt))
      yield* TestClock.adjust("100 millis") // the batch of first attempts is recorded
      expect(yield* budget.state).toEqual({ firstAttempts: 10, retries: 0, available: 5 })
      yield* TestClock.adjust("10 seconds")
      expect(yield* budget.state).toEqual({ firstAttempts: 0, retries: 0, available: 0 })
      expect(yield* budget.admit(ScriptedModel.serverError())).toBe(false)
    }).pipe(memory))

  it.effect("callers of one store and key share one budget; another key has its own", () =>
    Effect.gen(function*() {
      const a = yield* RetryBudget.make({ key: "shared" })
      const b = yield* RetryBudget.make({ key: "shared" })
      const other = yield* RetryBudget.make({ key: "other" })
      yield* a.admit(ScriptedModel.serverError())
      expect((yield* b.state).retries).toBe(1)
      expect((yield* other.state).retries).toBe(0)
    }).pipe(memory))

  it.effect("1,000 concurrent first attempts and retries keep retries within the allowance", () =>
    Effect.gen(function*() {
      const budget = yield* RetryBudget.make({ minPerSecond: 1 })
      const granted = yield* concurrently(budget)
      const state = yield* budget.state
      expect(state.firstAttempts).toBe(1_000)
      expect(granted).toBe(510)
      expect(state).toEqual({ firstAttempts: 1_000, retries: 510, available: 0 })
    }).pipe(memory))

  it("refuses bad options with an InvalidOptions that names each field", async () => {
    const attempt = (input: unknown) => failureOf(RetryBudget.make(input as never))
    const bad = await attempt({ ratio: -1, window: 0, minPerSecond: Number.NaN, retryRatio: 2 })
    expect(bad).toBeInstanceOf(InvalidOptions)
    const message = (bad as InvalidOptions).message
    expect(message).toContain("Invalid RetryBudget options")
    for (const field of ["ratio", "window", "minPerSecond", "retryRatio"]) expect(message).toContain(field)
    expect(await attempt(null)).toBeInstanceOf(InvalidOptions)
    expect(await attempt({ key: "" })).toBeInstanceOf(InvalidOptions)
    expect(await attempt({})).toBeUndefined()
  })

  it.effect.skipIf(!redisAvailable)(
    "on Redis: 1,000 concurrent first attempts and retries keep within the allowance (store timeout 5 s)",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        // the store's scope is the test's: provided to `make` alone, its connection would close as `make` returns
        const store = yield* FleetStoreRedis.make({
          host: server.host,
          port: server.port,
          prefix: `${uniquePrefix("budget-concurrent")}:`,
          timeout: "5 seconds"
        })
        const budget = yield* RetryBudget.make({ minPerSecond: 1 }).pipe(
          Effect.provideService(FleetStore.FleetStore, store)
        )
        expect(yield* concurrently(budget)).toBe(510)
        expect(yield* budget.state).toEqual({ firstAttempts: 1_000, retries: 510, available: 0 })
      }).pipe(Effect.scoped),
    30_000
  )

  it.scoped.skipIf(!redisAvailable)(
    "two runtimes on one Redis see one budget",
    () =>
      Effect.gen(function*() {
        const server = yield* redisServer
        const prefix = uniquePrefix("budget")
        // Two runtimes, each with its own Redis connection, as two processes would have.
        const runtime = () =>
          ManagedRuntime.make(
            RetryBudget.layer({ key: "fleet", minPerSecond: 0 }).pipe(
              // a store timeout far beyond a loaded machine's lag: a fall-back to local state would answer otherwise
              Layer.provide(redisStore(server, prefix, { timeout: "5 seconds" }))
            )
          )
        const [a, b] = [runtime(), runtime()]
        yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all([a.dispose(), b.dispose()])))
        const inA = <X>(f: (budget: RetryBudget.Service) => Effect.Effect<X>) =>
          Effect.promise(() => a.runPromise(Effect.flatMap(RetryBudget.RetryBudget, f)))
        const inB = <X>(f: (budget: RetryBudget.Service) => Effect.Effect<X>) =>
          Effect.promise(() => b.runPromise(Effect.flatMap(RetryBudget.RetryBudget, f)))
        const down = ScriptedModel.serverError()
        // 40 first attempts in A pay for 20 retries, wherever they are asked for
        yield* inA((budget) => Effect.all(Array.from({ length: 40 }, () => budget.firstAttempt)))
        while ((yield* inA((budget) => budget.state)).firstAttempts < 40) yield* Effect.yieldNow()
        for (let i = 0; i < 12; i++) expect(yield* inA((budget) => budget.admit(down))).toBe(true)
        for (let i = 0; i < 8; i++) expect(yield* inB((budget) => budget.admit(down))).toBe(true)
        expect(yield* inA((budget) => budget.admit(down))).toBe(false)
        expect(yield* inB((budget) => budget.admit(down))).toBe(false)
        expect(yield* inB((budget) => budget.state)).toEqual({ firstAttempts: 40, retries: 20, available: 0 })
      }),
    30_000
  )
})

/** 1,000 first attempts and 1,000 retries asked all at once; how many retries were granted. */
const concurrently = (budget: RetryBudget.Service) =>
  Effect.gen(function*() {
    const down = ScriptedModel.serverError()
    yield* Effect.all(Array.from({ length: 1_000 }, () => budget.firstAttempt), { concurrency: "unbounded" })
    // first attempts are recorded in the background, in batches: wait until all are, before any retry is asked
    while ((yield* budget.state).firstAttempts < 1_000) yield* Effect.yieldNow()
    const granted = yield* Effect.all(Array.from({ length: 1_000 }, () => budget.admit(down)), {
      concurrency: "unbounded"
    })
    return granted.filter(Boolean).length
  })
