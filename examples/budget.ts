import { RateLimiter } from "@effect/experimental"
import { Effect, Logger, LogLevel } from "effect"
import { type CompletionModel, RetryBudget, RetryingModel } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"

// An outage: every call fails with a 503. 200 callers, up to 3 attempts each.
let calls = 0
const down: CompletionModel.Service = {
  name: "down",
  model: "m",
  chatStream: () => Effect.suspend(() => (calls++, Effect.fail(ScriptedModel.transient())))
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
  const budget = yield* RetryBudget.make({ policy: RetryBudget.awsQuota })
  yield* fleet(RetryingModel.make(down, policy, { budget }))
  console.log(`with the AWS retry quota: ${calls} calls for 200 requests (${yield* budget.balance} tokens left)`)
})

Effect.runPromise(program.pipe(Effect.provide(RateLimiter.layerStoreMemory), Logger.withMinimumLogLevel(LogLevel.None)))
