import { Effect, Fiber, Layer, Stream, TestClock, TestContext } from "effect"
import { CompletionModel, RetryingModel } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"

// A scripted model stands in for the provider: a 429 asking for 2 s, then the answer.
const Scripted = ScriptedModel.layer([
  ScriptedModel.rateLimited({ retryAfter: "2 seconds" }),
  ScriptedModel.reply("Hi")
])
const Model = RetryingModel.layer({ maxAttempts: 4, baseDelay: "500 millis" }).pipe(Layer.provideMerge(Scripted))

// In virtual time: the retry waits out the server's 2 s without a real second passing.
const test = Effect.gen(function*() {
  const model = yield* CompletionModel.CompletionModel
  const recorder = yield* ScriptedModel.ScriptedModel
  const text = Effect.flatMap(
    model.chatStream({ messages: [{ role: "user", content: "Hi" }] }),
    (stream) => Stream.runFold(stream, "", (text, chunk) => chunk._tag === "TextDelta" ? text + chunk.text : text)
  )
  const answer = yield* Effect.fork(text)
  yield* TestClock.adjust("1999 millis") // not yet: the hint is a floor
  const early = yield* recorder.count
  yield* TestClock.adjust("201 millis") // the 2 s Retry-After plus at most 10% jitter
  const calls = yield* recorder.calls
  const at = calls.map((call) => Math.round(call.at)).join(" and ")
  console.log(
    `"${yield* Fiber.join(answer)}" after ${calls.length} calls (${early} before 2 s), at ${at} ms virtual time`
  )
})

Effect.runPromise(test.pipe(Effect.provide(Model), Effect.provide(TestContext.TestContext)))
