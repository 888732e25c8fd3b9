import { Effect, Layer } from "effect"
import { CircuitBreaker, CompletionModel, RetryingModel } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"

// A model that is down for three calls, then back. The breaker opens after two failures in a row;
// the retries wait out its reset timeout and go through on the probe.
const Model = RetryingModel.layer({ maxAttempts: 5, baseDelay: "50 millis", jitter: false }).pipe(
  Layer.provide(CircuitBreaker.layer({ consecutiveFailures: 2, resetTimeout: "500 millis" })),
  Layer.provide(
    ScriptedModel.layer([ScriptedModel.serverError(), ScriptedModel.serverError(), ScriptedModel.reply("back")])
  )
)

const program = Effect.gen(function*() {
  const model = yield* CompletionModel.CompletionModel
  const start = Date.now()
  yield* model.chatStream({ messages: [] })
  console.log(`answered after ${Date.now() - start} ms`)
})

Effect.runPromise(program.pipe(Effect.provide(Model)))
