import { RateLimiter } from "@effect/experimental"
import * as RateLimiterRedis from "@effect/experimental/RateLimiter/Redis"
import { Effect, Layer, Stream } from "effect"
import { CompletionModel, ResilientModel, RetryBudget } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"

// The recommended stack: retries with a shared budget -> circuit breaker -> adaptive rate limiter -> model.
// With REDIS_URL set, the budget and the limiter's bucket live in Redis and every process shares them.
const Store = process.env.REDIS_URL
  ? RateLimiterRedis.layerStore({
    host: new URL(process.env.REDIS_URL).hostname,
    port: Number(new URL(process.env.REDIS_URL).port)
  })
  : RateLimiter.layerStoreMemory

const Model = ResilientModel.layer({
  retry: { maxAttempts: 4, baseDelay: "100 millis" },
  budget: { key: "example", policy: RetryBudget.awsQuota },
  breaker: { consecutiveFailures: 5, resetTimeout: "30 seconds" },
  limiter: { key: "example" }
}).pipe(
  Layer.provide(ScriptedModel.layer([ScriptedModel.overloaded(), ScriptedModel.reply("Hello from the stack")])),
  Layer.provide(Store)
)

const program = Effect.gen(function*() {
  const model = yield* CompletionModel.CompletionModel
  const stream = yield* model.chatStream({ messages: [{ role: "user", content: "Hi" }] })
  const text = yield* Stream.runFold(stream, "", (acc, chunk) => chunk._tag === "TextDelta" ? acc + chunk.text : acc)
  console.log(`${text} (store: ${process.env.REDIS_URL ? "redis" : "memory"})`)
})

Effect.runPromise(Effect.scoped(program.pipe(Effect.provide(Model))))
