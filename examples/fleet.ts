import { Effect, Layer, Stream } from "effect"
import { CompletionModel, FleetStore, ResilientModel } from "effect-retry-layer"
import { FleetStoreRedis } from "effect-retry-layer/redis"
import { ScriptedModel } from "effect-retry-layer/testing"

// The recommended stack: retries with a shared budget -> circuit breaker -> adaptive rate limiter -> model.
// With REDIS_URL set, the budget and the limiter live in Redis and every process on it shares them.
const url = process.env.REDIS_URL ? new URL(process.env.REDIS_URL) : undefined
const Store = url === undefined
  ? FleetStore.layerMemory
  : FleetStoreRedis.layer({ host: url.hostname, port: Number(url.port || 6379) })

const Model = ResilientModel.layer({ budget: { key: "example" }, limiter: { key: "example" } }).pipe(
  Layer.provide(ScriptedModel.layer([ScriptedModel.overloaded(), ScriptedModel.reply("Hello from the stack")])),
  Layer.provide(Store)
)

const program = Effect.gen(function*() {
  const model = yield* CompletionModel.CompletionModel
  const stream = yield* model.chatStream({ messages: [{ role: "user", content: "Hi" }] })
  const text = yield* Stream.runFold(stream, "", (acc, chunk) => chunk._tag === "TextDelta" ? acc + chunk.text : acc)
  console.log(`${text} (store: ${url === undefined ? "memory" : "redis"})`)
  // The stack's policies, for a dashboard: the 529 cut the limiter's rate, and the breaker did not count it.
  const { breaker, limiter } = yield* ResilientModel.Policies
  const pace = yield* limiter!.state
  console.log(`limiter: ${pace.mode} at ${pace.rate.toFixed(2)}/s; circuit: ${(yield* breaker!.state)._tag}`)
})

Effect.runPromise(Effect.scoped(program.pipe(Effect.provide(Model))))
