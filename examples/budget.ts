import { Effect, Logger, LogLevel } from "effect"
import { type CompletionModel, FleetStore, RetryBudget, RetryingModel } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"

// An outage: every call fails with a 503. 200 callers, up to 3 attempts each.
let calls = 0
const down: CompletionModel.Service = {
  name: "down",
  model: "m",
  chatStream: () => Effect.suspend(() => (calls++, Effect.fail(ScriptedModel.serverError())))
}
const policy = { maxAttempts: 3, baseDelay: "10 millis" } as const
const fleet = (model: CompletionModel.Service) =>
  Effect.forEach(Array.from({ length: 200 }), () => Effect.exit(model.chatStream({ messages: [] })), {
    concurrency: "unbounded"
  })

const program = Effect.gen(function*() {
  yield* fleet(RetryingModel.make(down, policy))
  console.log(`without a budget: ${calls} calls for 200 requests`)
  calls = 0
  // retries may add half the first attempts, plus 20 (2/s over the 10 s window)
  const budget = yield* RetryBudget.make({ ratio: 0.5, minPerSecond: 2 })
  yield* fleet(RetryingModel.make(down, policy, { budget }))
  const { retries } = yield* budget.state
  console.log(`with the retry budget: ${calls} calls for 200 requests (${retries} retries granted)`)
})

Effect.runPromise(program.pipe(Effect.provide(FleetStore.layerMemory), Logger.withMinimumLogLevel(LogLevel.None)))
