// @effect/ai's LanguageModel behind the retry layer: the usual AnthropicClient.layerConfig + NodeHttpClient wiring,
// run here against a loopback server that answers 429 (retry-after-ms: 500), then a 200 whose first event is
// overloaded_error (which @effect/ai alone hands over as a successful stream), then the answer.
import { LanguageModel } from "@effect/ai"
import { AnthropicClient, AnthropicLanguageModel } from "@effect/ai-anthropic"
import { NodeHttpClient } from "@effect/platform-node"
import { Config, ConfigProvider, Console, Effect, Layer, Stream } from "effect"
import { RetryingLanguageModel } from "effect-retry-layer/ai"
import { FaultServer } from "effect-retry-layer/testing/server"

const Model = RetryingLanguageModel.layer({ maxAttempts: 4 }).pipe(
  Layer.provide(AnthropicLanguageModel.model("claude-sonnet-4-5")),
  Layer.provide(AnthropicClient.layerConfig({
    apiKey: Config.redacted("ANTHROPIC_API_KEY"),
    apiUrl: Config.string("ANTHROPIC_API_URL").pipe(Config.withDefault(undefined))
  })),
  Layer.provide(NodeHttpClient.layerUndici)
)

const program = LanguageModel.streamText({ prompt: "Say hi." }).pipe(
  Stream.runForEach((part) => part.type === "text-delta" ? Console.log(part.delta) : Effect.void),
  Effect.provide(Model)
)

Effect.gen(function*() {
  const server = yield* FaultServer.make()
  yield* server.enqueue(
    FaultServer.anthropicError(429, "rate_limit_error", "slow down", { "retry-after-ms": "500" }),
    FaultServer.stream([FaultServer.anthropicErrorEvent("overloaded_error", "Overloaded")]),
    FaultServer.anthropicStream(["Hi!"])
  )
  const config = new Map([["ANTHROPIC_API_KEY", "sk-ant-loopback"], ["ANTHROPIC_API_URL", server.url]])
  yield* program.pipe(Effect.withConfigProvider(ConfigProvider.fromMap(config)))
  yield* Console.log(`(${(yield* server.requests).length} requests)`)
}).pipe(Effect.scoped, Effect.runPromise)
