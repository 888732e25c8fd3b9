import { assert, describe, it } from "@effect/vitest"
import {
  FleetStore,
  InvalidOptions,
  ModelError,
  ResilientLanguageModel,
  RetryAcquisition,
  RetryBudget
} from "effect-retry-layer"
import * as AiError from "effect/ai/AiError"
import * as LanguageModel from "effect/ai/LanguageModel"
import type * as Response from "effect/ai/Response"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as References from "effect/References"
import { TestClock } from "effect/testing"

const usage = { inputTokens: { total: 3 }, outputTokens: { total: 2 } }
const answer: Array<Response.PartEncoded> = [
  { type: "text", text: "hello" },
  { type: "finish", reason: "stop", usage }
]
const aiError = (reason: AiError.AiErrorReason) => AiError.make({ module: "Scripted", method: "generateText", reason })
const rateLimited = (retryAfter?: string) =>
  aiError(
    new AiError.RateLimitError({
      http: { response: { status: 429, headers: retryAfter === undefined ? {} : { "retry-after": retryAfter } } }
    })
  )
const down = aiError(
  new AiError.InternalProviderError({ description: "down", http: { response: { status: 503, headers: {} } } })
)

const now = Clock.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe()))

/** A provider that answers each call with its script's next entry, and records the virtual time of each request. */
const scripted = (script: ReadonlyArray<AiError.AiError | "ok">) => {
  const requests: Array<number> = []
  const layer = Layer.effect(
    LanguageModel.LanguageModel,
    LanguageModel.make({
      generateText: () =>
        Effect.flatMap(now, (at) => {
          const entry = script[requests.length] ?? "ok"
          requests.push(at)
          return entry === "ok" ? Effect.succeed(answer) : Effect.fail(entry)
        }),
      streamText: () => Effect.die("not scripted") as never
    })
  )
  return { requests, layer }
}

/**
 * A provider with a capacity: `capacity` requests a second (a bucket `burst` deep), each answered after `latency`;
 * one over it is a 429 with `retry-after: 1`. Counts what it accepted and refused.
 */
const throttled = (capacity: number, burst: number, latency: number) => {
  const counts = { accepted: 0, refused: 0 }
  let tokens = burst
  let at = 0
  const layer = Layer.effect(
    LanguageModel.LanguageModel,
    LanguageModel.make({
      generateText: () =>
        Effect.flatMap(now, (t) => {
          tokens = Math.min(burst, tokens + ((t - at) / 1000) * capacity)
          at = t
          if (tokens < 1) {
            counts.refused++
            return Effect.fail(rateLimited("1"))
          }
          tokens--
          counts.accepted++
          return Effect.as(Effect.sleep(latency), answer)
        }),
      streamText: () => Effect.die("not scripted") as never
    })
  )
  return { counts, layer }
}

const failure = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.findErrorOption(exit.cause)) : undefined

/** Runs `effect` forked and moves the test clock on, `step` at a time for at most `steps`, until it ends. */
const settle = <A, E>(effect: Effect.Effect<A, E>, step: Duration.Input = "1 second", steps = 200) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    for (let i = 0; i < steps && fiber.pollUnsafe() === undefined; i++) yield* TestClock.adjust(step)
    return yield* Fiber.await(fiber)
  })

const quiet = Effect.provideService(References.MinimumLogLevel, "None")

const stack = (provider: Layer.Layer<LanguageModel.LanguageModel>, options: ResilientLanguageModel.Options) =>
  ResilientLanguageModel.layer(options).pipe(Layer.provideMerge(provider), Layer.provide(FleetStore.layerMemory))

const text = LanguageModel.generateText({ prompt: "Hi" })

describe("ResilientLanguageModel (Effect 4)", () => {
  // The Effect 3 line's ResilientModel scenarios, with the same request times.
  it.effect("wires retries, budget, breaker and limiter around the model", () =>
    Effect.gen(function*() {
      const provider = scripted([rateLimited(), "ok"])
      const exit = yield* settle(Effect.provide(text, stack(provider.layer, { retry: { jitter: false } })))
      assert.isTrue(Exit.isSuccess(exit))
      // the limiter cut the rate to its minimum, 1/s: the token is there when the 1 s backoff ends
      assert.deepStrictEqual(provider.requests, [0, 1000])
    }).pipe(quiet))

  it.effect("without a FleetStore, the layer fails when built, and the message names the layers to provide", () =>
    Effect.gen(function*() {
      const layer = ResilientLanguageModel.layer().pipe(Layer.provide(scripted([]).layer))
      const exit = yield* Effect.exit(Layer.build(layer as Layer.Layer<LanguageModel.LanguageModel>))
      assert.include(
        Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "",
        "Service not found: effect-retry-layer/FleetStore (provide FleetStore.layerMemory for one process, " +
          "or FleetStoreRedis.layer from effect-retry-layer/redis)"
      )
    }).pipe(Effect.scoped))

  it.effect("the retries wait out an open circuit and go through on the probe", () =>
    Effect.gen(function*() {
      const provider = scripted([down, down, "ok"])
      const exit = yield* settle(
        Effect.provide(
          text,
          stack(provider.layer, {
            retry: { maxAttempts: 5, baseDelay: "10 millis", jitter: false },
            breaker: { consecutiveFailures: 2, resetTimeout: "5 seconds" }
          })
        ),
        "10 millis",
        1_000
      )
      assert.isTrue(Exit.isSuccess(exit))
      assert.deepStrictEqual(provider.requests, [0, 10, 5010])
    }).pipe(quiet))

  it.effect("provides its policies beside the model: each one's state is the state the calls went through", () =>
    Effect.gen(function*() {
      const provider = scripted([rateLimited(), "ok"])
      const layer = stack(provider.layer, { retry: { jitter: false } })
      const states = yield* settle(Effect.provide(
        Effect.gen(function*() {
          yield* text
          const { breaker, budget, limiter } = yield* ResilientLanguageModel.Policies
          return {
            limiter: yield* limiter!.state,
            budget: yield* budget!.state,
            breaker: yield* breaker!.state
          }
        }),
        layer
      ))
      assert.isTrue(Exit.isSuccess(states))
      if (Exit.isSuccess(states)) {
        // the 429 cut the limiter's rate; the budget counted the call's first attempt; the breaker counted both
        // attempts, neither a failure (a throttle is the limiter's business)
        assert.strictEqual(states.value.limiter.mode, "cubic")
        assert.strictEqual(states.value.limiter.lastMaxRate, 1)
        assert.strictEqual(states.value.budget.firstAttempts, 1)
        assert.deepStrictEqual(states.value.breaker, { _tag: "Closed", consecutive: 0, calls: 2, failures: 0 })
      }
    }).pipe(quiet))

  it.effect(
    "with no option set, 3,000 callers against 100/s all succeed, within 1.1x the floor and 1.1 calls each",
    () =>
      Effect.gen(function*() {
        const provider = throttled(100, 100, 200)
        const results = yield* settle(
          Effect.provide(
            Effect.forEach(
              Array.from({ length: 3_000 }),
              () => Effect.zip(Effect.exit(text), now),
              { concurrency: "unbounded" }
            ),
            stack(provider.layer, {})
          )
        )
        assert.isTrue(Exit.isSuccess(results))
        if (!Exit.isSuccess(results)) return
        assert.isTrue(results.value.every(([exit]) => Exit.isSuccess(exit)))
        assert.strictEqual(provider.counts.accepted, 3_000)
        assert.isAtMost((provider.counts.accepted + provider.counts.refused) / 3_000, 1.1)
        // the last answer: the floor is (3,000 - 100) / 100 + 0.2 = 29.2 s
        const done = Math.max(...results.value.map(([, at]) => at))
        assert.isAtLeast(done, 29_200)
        assert.isAtMost(done, 1.1 * 29_200)
      }).pipe(quiet),
    60_000
  )

  it.effect("a retry the budget refuses ends the call at once with RetryBudgetExhaustedError", () =>
    Effect.gen(function*() {
      const budget = yield* Effect.provide(
        RetryBudget.make({ key: "b", ratio: 0, minPerSecond: 0 }),
        FleetStore.layerMemory
      )
      let attempts = 0
      const call = Effect.suspend(() => {
        attempts++
        return Effect.fail(new ModelError.ServerError({ provider: "p", message: "down", status: 503 }))
      })
      const exit = yield* settle(RetryAcquisition.retryAcquisition(call, { maxAttempts: 5 }, { budget }))
      const error = failure(exit)
      assert.strictEqual(attempts, 1)
      assert.strictEqual(error?._tag, "RetryBudgetExhaustedError")
      assert.include(error?.message, "retry budget \"b\" exhausted; not retrying ServerError")
      assert.strictEqual((yield* budget.state).firstAttempts, 1)
    }).pipe(quiet))

  it.effect("refuses a misspelled or ill-typed option, naming what was meant, when the layer is built", () =>
    Effect.gen(function*() {
      const built = (options: unknown) =>
        Effect.flip(Layer.build(stack(scripted([]).layer, options as ResilientLanguageModel.Options)))
      const misspelled = yield* built({ retyr: {} })
      assert.instanceOf(misspelled, InvalidOptions)
      assert.include(
        misspelled.message,
        "Invalid ResilientLanguageModel options: retyr: unknown option; did you mean retry?"
      )
      const limiter = yield* built({ limiter: { initalRate: 5 } })
      assert.include(
        limiter.message,
        "Invalid AdaptiveRateLimiter options: initalRate: unknown option; did you mean initialRate?"
      )
      const breaker = yield* built({ breaker: { failureRate: { threshold: 0.5, window: 10, minimumCalls: 20 } } })
      assert.include(
        breaker.message,
        "Invalid CircuitBreaker options: failureRate.minimumCalls: must not be above window"
      )
      const budget = yield* built({ budget: { ratio: -1, window: 0 } })
      assert.include(budget.message, "ratio: expected a finite number >= 0 and <= 100, got -1")
      assert.include(budget.message, "window: expected a positive duration")
    }).pipe(Effect.scoped))
})
