import { Effect, Layer, Stream } from "effect"
import { CompletionModel, RetryingModel, RetryPolicy } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"

// Commit on the first chunk (an overload sent as a stream's first event is retried), a limit on each
// attempt and on the whole call, and the server's hint waited exactly rather than as a floor.
const policy = RetryPolicy.from({
  maxAttempts: 4,
  baseDelay: "50 millis",
  commitOn: "first-chunk",
  timeout: "30 seconds",
  maxElapsed: "2 minutes",
  retryAfter: "exact"
})

// A misspelled option is refused, with what was meant.
try {
  RetryPolicy.from(JSON.parse("{\"maxAttempt\": 4}"))
} catch (error) {
  console.log(String(error).split("\n")[0])
}

const script = [[ScriptedModel.overloaded()], ScriptedModel.rateLimited({ retryAfter: "20 millis" }), [
  ...ScriptedModel.reply("ok")
]]
const text = await Effect.gen(function*() {
  const model = yield* CompletionModel.CompletionModel
  const stream = yield* model.chatStream({ messages: [{ role: "user", content: "hi" }] })
  return yield* Stream.runFold(stream, "", (acc, chunk) => chunk._tag === "TextDelta" ? acc + chunk.text : acc)
}).pipe(
  Effect.provide(RetryingModel.layer(policy).pipe(Layer.provide(ScriptedModel.layer(script)))),
  Effect.runPromise
)
console.log(`${text} on the third call`)
