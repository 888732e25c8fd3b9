// Testing code that calls @effect/ai, deterministically: a scripted LanguageModel behind the retry layer, in virtual
// time. (In a test file, `it.effect` from @effect/vitest provides the TestClock for you.)
import { LanguageModel } from "@effect/ai"
import { Effect, Fiber, Layer, Stream, TestClock, TestContext } from "effect"
import { RetryingLanguageModel } from "effect-retry-layer/ai"
import { ScriptedLanguageModel } from "effect-retry-layer/testing/ai"

const Scripted = ScriptedLanguageModel.layer([
  ScriptedLanguageModel.rateLimited({ retryAfter: "2 seconds" }),
  [ScriptedLanguageModel.errorPart("overloaded_error")], // a 200 whose first event is an error
  ScriptedLanguageModel.reply("Hello")
])
const Model = RetryingLanguageModel.layer({ baseDelay: "500 millis", jitter: false }).pipe(Layer.provideMerge(Scripted))

const test = Effect.gen(function*() {
  const answer = yield* Effect.fork(
    LanguageModel.streamText({ prompt: "Hi" }).pipe(
      Stream.runFold("", (text, part) => part.type === "text-delta" ? text + part.delta : text)
    )
  )
  yield* TestClock.adjust("2 seconds") // the hint, a floor over the first backoff (500 ms)
  yield* TestClock.adjust("1 second") // the second backoff
  const text = yield* Fiber.join(answer)
  const calls = yield* Effect.flatMap(ScriptedLanguageModel.ScriptedLanguageModel, (recorder) => recorder.calls)
  console.log(`${text} after ${calls.length} calls, at ${calls.map((call) => call.at).join(", ")} ms`)
})
Effect.runPromise(test.pipe(Effect.provide(Model), Effect.provide(TestContext.TestContext)))
