import { NodeHttpClient } from "@effect/platform-node"
import { Cause, Config, ConfigProvider, Effect, Exit, Layer, Stream } from "effect"
import { CompletionModel, FleetStore, ResilientModel } from "effect-retry-layer"
import { Anthropic } from "effect-retry-layer/anthropic"
import { FaultServer } from "effect-retry-layer/testing/server"

// The production wiring on Effect 3: the adapter reads its key from the environment (a Redacted, never logged),
// the recommended stack (retries, budget, breaker, limiter) decorates it, Node's HTTP client carries it. With
// ANTHROPIC_API_KEY set it calls the real API; without, the same program runs against a loopback server.
const Model = ResilientModel.layer().pipe(
  Layer.provide(Anthropic.layerConfig({
    apiKey: Config.redacted("ANTHROPIC_API_KEY"),
    model: Config.withDefault(Config.string("ANTHROPIC_MODEL"), "claude-sonnet-4-5"),
    baseUrl: Config.withDefault(Config.string("ANTHROPIC_BASE_URL"), "https://api.anthropic.com")
  })),
  Layer.provide(NodeHttpClient.layerUndici),
  // one process; FleetStoreRedis.layer (effect-retry-layer/redis) shares the budget and the limiter between many
  Layer.provide(FleetStore.layerMemory)
)

const program = Effect.gen(function*() {
  const model = yield* CompletionModel.CompletionModel
  // A ChatRequest: messages (role "user" | "assistant", text content), and optionally system, maxTokens,
  // temperature and stopSequences.
  const stream = yield* model.chatStream({
    system: "Answer in one sentence.",
    messages: [{ role: "user", content: "What is a retry budget?" }],
    maxTokens: 200
  })
  yield* Stream.runForEach(stream, (chunk) =>
    Effect.sync(() => {
      if (chunk._tag === "TextDelta") process.stdout.write(chunk.text)
      if (chunk._tag === "TurnFinished") console.log(`\n[${chunk.reason}, ${chunk.usage.outputTokens} tokens]`)
    }))
}).pipe(Effect.provide(Model))

// No key: the loopback server stands in for Anthropic, and answers a 429 (retry-after: 1) before the answer.
const loopback = Effect.gen(function*() {
  const server = yield* FaultServer.make()
  yield* server.enqueue(
    FaultServer.anthropicError(429, "rate_limit_error", "slow down", { "retry-after": "1" }),
    FaultServer.anthropicStream(["A retry budget caps retries ", "at a share of first attempts."])
  )
  const env = new Map([["ANTHROPIC_API_KEY", "sk-ant-loopback"], ["ANTHROPIC_BASE_URL", server.url]])
  yield* program.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(env)))
  console.log(`(loopback server: ${(yield* server.requests).length} requests)`)
})

Effect.runPromiseExit(process.env.ANTHROPIC_API_KEY ? program : Effect.scoped(loopback)).then((exit) => {
  if (Exit.isFailure(exit)) {
    console.error(`failed: ${Cause.pretty(exit.cause).split("\n")[0]}`)
    process.exitCode = 1
  }
})
