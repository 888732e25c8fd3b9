import { AdaptiveRateLimiter, CompletionModel, FleetStore } from "effect-retry-layer"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as TestClock from "effect/TestClock"

export const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "Hi" }] }

/** `n` callers at once; the time each finished, in virtual time. */
export const callers = (model: CompletionModel.Service, n: number, horizon: Duration.DurationInput = "2 minutes") =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(Effect.forEach(
      Array.from({ length: n }),
      () => Effect.zipRight(Effect.exit(model.chatStream(request)), Clock.currentTimeMillis),
      { concurrency: "unbounded" }
    ))
    yield* TestClock.adjust(horizon)
    return yield* Fiber.join(fiber)
  })

export const quiet = Logger.withMinimumLogLevel(LogLevel.None)
export const memory = Effect.provide(FleetStore.layerMemory)

/** `inner` behind a limiter of its own (on the store in context). */
export const limited = (inner: CompletionModel.Service, options?: AdaptiveRateLimiter.Options.Input) =>
  Effect.map(AdaptiveRateLimiter.make(options), (limiter) => ({
    limiter,
    model: CompletionModel.mapAcquisition(inner, limiter.apply)
  }))
