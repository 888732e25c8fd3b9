import { Effect, Fiber, Layer, Schedule, Stream, TestClock, TestContext } from "effect"
import { CompletionModel, RetryingModel, RetrySchedule } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"

// 1. Decorate any CompletionModel: a provider adapter in production, a scripted one in tests.
const Scripted = ScriptedModel.layer([
  ScriptedModel.rateLimited({ retryAfter: "2 seconds" }),
  ScriptedModel.reply("Hi")
])
const Model = RetryingModel.layer({ maxAttempts: 4, baseDelay: "500 millis" }).pipe(Layer.provideMerge(Scripted))

// 2. Or take the Schedule itself and compose it with Effect's own combinators.
export const schedule = RetrySchedule.make({ maxAttempts: 6 }).pipe(Schedule.upTo("1 minute"))

// 3. Test in virtual time: the retry waits out the server's 2 s without a real second passing.
const test = Effect.gen(function*() {
  const model = yield* CompletionModel.CompletionModel
  const answer = yield* Effect.fork(Effect.flatMap(model.chatStream({ messages: [] }), Stream.runCollect))
  yield* TestClock.adjust("2200 millis") // the 2 s Retry-After plus at most 10% jitter
  const calls = yield* Effect.flatMap(ScriptedModel.ScriptedModel, (recorder) => recorder.count)
  console.log(yield* Fiber.join(answer), `after ${calls} calls`)
})
Effect.runPromise(test.pipe(Effect.provide(Model), Effect.provide(TestContext.TestContext)))
