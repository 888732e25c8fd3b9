import * as RateLimiter from "@effect/experimental/RateLimiter"
import { describe, expect, it } from "@effect/vitest"
import { CompletionModel, ResilientModel } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as TestClock from "effect/TestClock"
import { consume, failure } from "./support/chat.js"

const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "Hi" }] }
const down = () => ScriptedModel.transient({ message: "down" })

const stack = (script: ReadonlyArray<ScriptedModel.Turn>, options: ResilientModel.Options) =>
  ResilientModel.layer(options).pipe(
    Layer.provideMerge(ScriptedModel.layer(script)),
    Layer.provide(RateLimiter.layerStoreMemory)
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
      expect(calls.map((c) => c.at)).toEqual([0, 10])
    }).pipe(Effect.provide(stack([ScriptedModel.rateLimited(), ScriptedModel.reply("ok")], {
      retry: { baseDelay: "10 millis", jitter: false }
    }))))

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

  it.effect("parts can be turned off", () =>
    Effect.gen(function*() {
      const { exit } = yield* chat
      expect(failure(exit)?._tag).toBe("ServerError")
    }).pipe(
      Effect.provide(stack([down()], { retry: { maxAttempts: 1 }, budget: false, breaker: false, limiter: false }))
    ))
})
