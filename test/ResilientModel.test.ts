import { describe, expect, it } from "@effect/vitest"
import {
  AdaptiveRateLimiter,
  CompletionModel,
  Deadline,
  FleetStore,
  InvalidOptions,
  ResilientModel,
  RetryingModel,
  RetrySchedule
} from "effect-retry-layer"
import { ScriptedModel, ThrottledModel } from "effect-retry-layer/testing"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as TestClock from "effect/TestClock"
import { consume, failure } from "./support/chat.js"
import { buildFailure } from "./support/thrown.js"

const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "Hi" }] }
const down = () => ScriptedModel.serverError({ message: "down" })

const stack = (script: ReadonlyArray<ScriptedModel.Turn>, options: ResilientModel.Options) =>
  ResilientModel.layer(options).pipe(
    Layer.provideMerge(ScriptedModel.layer(script)),
    Layer.provide(FleetStore.layerMemory)
  )

const chat = Effect.flatMap(CompletionModel.CompletionModel, (model) => consume(model, request))

describe("ResilientModel", () => {
  it.effect("wires retries, budget, breaker and limiter around the model", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(chat)
      yield* TestClock.adjust("1 minute")
      const { exit } = yield* Fiber.join(fiber)
      expect(exit).toStrictEqual(Exit.void)
      const calls = yield* Effect.flatMap(ScriptedModel.ScriptedModel, (r) => r.calls)
      // the limiter cut the rate to its minimum, 1/s: the token is there when the 1 s backoff ends
      expect(calls.map((c) => c.at)).toEqual([0, 1000])
    }).pipe(Effect.provide(stack([ScriptedModel.rateLimited(), ScriptedModel.reply("ok")], {
      retry: { jitter: false }
    }))))

  it.effect("a call with a deadline is retried until it is answered (the limiter admits only what fits); one without, or with maxAttempts set, stops at maxAttempts", () =>
    Effect.gen(function*() {
      const throttled = [1, 2, 3, 4].map(() => ScriptedModel.rateLimited())
      const run = (options: ResilientModel.Options, deadline: boolean) =>
        Effect.gen(function*() {
          const fiber = yield* Effect.fork(deadline ? Deadline.withDeadline(chat, "1 minute") : chat)
          yield* TestClock.adjust("1 minute")
          const { exit } = yield* Fiber.join(fiber)
          const calls = yield* Effect.flatMap(ScriptedModel.ScriptedModel, (r) => r.calls)
          return { answered: Exit.isSuccess(exit), calls: calls.length }
        }).pipe(
          Effect.provide(stack([...throttled, ScriptedModel.reply("ok")], options)),
          Logger.withMinimumLogLevel(LogLevel.None)
        )
      expect(yield* run({}, true)).toEqual({ answered: true, calls: 5 })
      expect(yield* run({}, false)).toEqual({ answered: false, calls: 3 })
      expect(yield* run({ retry: { maxAttempts: 3 } }, true)).toEqual({ answered: false, calls: 3 })
      expect(yield* run({ limiter: false }, true)).toEqual({ answered: false, calls: 3 })
    }))

  it.effect("the retries wait out an open circuit and go through on the probe", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(chat)
      yield* TestClock.adjust("1 minute")
      expect((yield* Fiber.join(fiber)).exit).toStrictEqual(Exit.void)
      const calls = yield* Effect.flatMap(ScriptedModel.ScriptedModel, (r) => r.calls)
      expect(calls.map((c) => c.at)).toEqual([0, 10, 5010])
    }).pipe(
      Effect.provide(stack([down(), down(), ScriptedModel.reply("ok")], {
        retry: { maxAttempts: 5, baseDelay: "10 millis", jitter: false },
        breaker: { consecutiveFailures: 2, resetTimeout: "5 seconds" }
      })),
      Logger.withMinimumLogLevel(LogLevel.None)
    ))

  it.effect("provides its policies beside the model: each one's state is the state the calls went through", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.fork(chat)
      yield* TestClock.adjust("2 seconds") // the call ends at 1 s, well within the budget's window
      expect((yield* Fiber.join(fiber)).exit).toStrictEqual(Exit.void)
      const { breaker, budget, limiter } = yield* ResilientModel.Policies
      // the 429 cut the limiter's rate; the budget counted the call's first attempt; the breaker counted both
      // attempts, neither a failure (a throttle is the limiter's business)
      expect(yield* limiter!.state).toMatchObject({ mode: "cubic", lastMaxRate: 1 })
      expect(yield* budget!.state).toMatchObject({ firstAttempts: 1 })
      expect(yield* breaker!.state).toEqual({ _tag: "Closed", consecutive: 0, calls: 2, failures: 0 })
    }).pipe(Effect.provide(stack([ScriptedModel.rateLimited(), ScriptedModel.reply("ok")], {
      retry: { jitter: false }
    }))))

  it.effect("a part turned off is undefined among its policies", () =>
    Effect.gen(function*() {
      const policies = yield* ResilientModel.Policies
      expect(policies.budget).toBeUndefined()
      expect(policies.limiter).toBeUndefined()
      expect(yield* policies.breaker!.state).toMatchObject({ _tag: "Closed" })
    }).pipe(Effect.provide(stack([], { budget: false, limiter: false }))))

  it.effect("without a FleetStore, the layer fails when built, and the message names the layers to provide", () =>
    Effect.gen(function*() {
      const layer = ResilientModel.layer().pipe(Layer.provide(ScriptedModel.layer([])))
      // what a user who forgot the store meets: the types say FleetStore is missing, the run says what to add
      const exit = yield* Effect.exit(Layer.build(layer as Layer.Layer<CompletionModel.CompletionModel>))
      expect(Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "").toContain(
        "Service not found: effect-retry-layer/FleetStore (provide FleetStore.layerMemory for one process, " +
          "or FleetStoreRedis.layer from effect-retry-layer/redis)"
      )
    }).pipe(Effect.scoped))

  it.effect("parts can be turned off", () =>
    Effect.gen(function*() {
      const { exit } = yield* chat
      expect(failure(exit)?._tag).toBe("ServerError")
    }).pipe(
      Effect.provide(stack([down()], { retry: { maxAttempts: 1 }, budget: false, breaker: false, limiter: false }))
    ))

  it.scoped(
    "with no option set, 3,000 callers against 100/s all succeed, within 1.1x the floor and 1.1 calls each",
    () =>
      Effect.gen(function*() {
        const [server, stats] = yield* ThrottledModel.make({
          capacity: 100,
          burst: 100,
          latency: "200 millis",
          retryAfter: { fixed: "1 second" }
        })
        const context = yield* Layer.build(
          ResilientModel.layer().pipe(
            Layer.provide(Layer.succeed(CompletionModel.CompletionModel, server)),
            Layer.provide(FleetStore.layerMemory)
          )
        )
        const model = context.pipe((c) =>
          c.unsafeMap.get(CompletionModel.CompletionModel.key) as CompletionModel.Service
        )
        // each call's exit and the time it came back
        const fiber = yield* Effect.fork(
          Effect.forEach(
            Array.from({ length: 3_000 }),
            () => Effect.zip(Effect.exit(model.chatStream(request)), Clock.currentTimeMillis),
            { concurrency: "unbounded" }
          )
        )
        yield* TestClock.adjust("2 minutes")
        const results = yield* Fiber.join(fiber)
        const { accepted, refused } = yield* stats
        expect(results.every(([exit]) => Exit.isSuccess(exit))).toBe(true)
        expect(accepted).toBe(3_000)
        expect((accepted + refused) / 3_000).toBeLessThanOrEqual(1.1)
        // the last answer: the floor is (3,000 - 100) / 100 + 0.2 = 29.2 s
        const done = Math.max(...results.map(([, at]) => at))
        expect(done).toBeGreaterThanOrEqual(29_200)
        expect(done).toBeLessThanOrEqual(1.1 * 29_200)
      }).pipe(Logger.withMinimumLogLevel(LogLevel.None))
  )

  it("refuses a misspelled or ill-typed option of the layers, naming what was meant", async () => {
    const message = async (f: () => unknown) => {
      try {
        const value = f()
        const error = Layer.isLayer(value) ? await buildFailure(value as never) : undefined
        if (error === undefined) return "accepted"
        expect(error).toBeInstanceOf(InvalidOptions)
        return (error as InvalidOptions).message
      } catch (error) {
        expect(error).toBeInstanceOf(InvalidOptions)
        return (error as InvalidOptions).message
      }
    }
    expect(await message(() => ResilientModel.layer({ limitter: {} } as never))).toBe(
      "Invalid ResilientModel options: limitter: unknown option; did you mean limiter?"
    )
    expect(await message(() => ResilientModel.layer({ secrets: ["sk-..."] } as never))).toContain(
      "secrets: expected an array of Redacted values"
    )
    expect(await message(() => RetryingModel.layer({}, { onRetyr: () => Effect.void } as never))).toBe(
      "Invalid RetryingModel options: onRetyr: unknown option; did you mean onRetry?"
    )
    expect(await message(() => AdaptiveRateLimiter.options({ initalRate: 5 } as never))).toBe(
      "Invalid AdaptiveRateLimiter options: initalRate: unknown option; did you mean initialRate?"
    )
    // an unknown key with no near name lists the known ones
    expect(await message(() => RetryingModel.layer({}, { tracing: true } as never))).toBe(
      "Invalid RetryingModel options: tracing: unknown option; expected one of budget, onRetry, secrets"
    )
  })

  it("refuses a bad option of any part when the layer is built, in the error channel (defining it throws nothing)", async () => {
    expect(await buildFailure(ResilientModel.layer({ limiter: { minRate: 0 } }))).toBeInstanceOf(InvalidOptions)
    expect(await buildFailure(ResilientModel.layer({ breaker: { halfOpenProbes: -1 } }))).toBeInstanceOf(InvalidOptions)
    expect(await buildFailure(ResilientModel.layer({ budget: { ratio: -1 } }))).toBeInstanceOf(InvalidOptions)
    expect(await buildFailure(ResilientModel.layer({ retry: { maxAttempts: 0 } }))).toBeInstanceOf(
      RetrySchedule.InvalidRetryPolicy
    )
    expect(await buildFailure(ResilientModel.layer({ retry: { maxAttempts: 2 }, limiter: { minRate: 1 } })))
      .toBeUndefined()
  })
})
