// Anthropic through effect/ai on Effect 4, with retries and the fleet stack (the provider's defaults). With
// ANTHROPIC_API_KEY set it calls the real API; without, the same program runs against an embedded loopback server.
import { Cause, Config, ConfigProvider, Console, Effect, Layer } from "effect"
import { Anthropic } from "effect-retry-layer/anthropic"
import { FaultServer } from "effect-retry-layer/testing/server"
import { LanguageModel } from "effect/ai"
import { FetchHttpClient } from "effect/http"

// The production wiring: the key from the environment as a Redacted (never logged), fetch as the HTTP client.
const Claude = Anthropic.layerConfig({
  apiKey: Config.Redacted("ANTHROPIC_API_KEY"),
  model: Config.String("ANTHROPIC_MODEL").pipe(Config.withDefault("claude-sonnet-4-5")),
  baseUrl: Config.String("ANTHROPIC_BASE_URL").pipe(Config.withDefault("https://api.anthropic.com"))
}).pipe(Layer.provide(FetchHttpClient.layer))

const program = LanguageModel.generateText({ prompt: "What is a retry budget? One sentence." }).pipe(
  Effect.flatMap((response) => Console.log(response.text)),
  Effect.provide(Claude)
)

// No key: the loopback server stands in for Anthropic, and answers a 429 (retry-after: 1) before the answer.
const loopback = Effect.gen(function*() {
  const server = yield* FaultServer.make()
  yield* server.enqueue(
    FaultServer.anthropicError(429, "rate_limit_error", "Number of requests has exceeded your rate limit", {
      "retry-after": "1"
    }),
    FaultServer.anthropicStream(["A retry budget caps retries ", "at a share of first attempts."])
  )
  const env = { ANTHROPIC_API_KEY: "sk-ant-loopback", ANTHROPIC_BASE_URL: server.url }
  yield* program.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromUnknown(env)))
  yield* Console.log(`(loopback server: ${(yield* server.requests).length} requests)`)
})

const exit = await Effect.runPromiseExit(process.env.ANTHROPIC_API_KEY ? program : Effect.scoped(loopback))
if (exit._tag === "Failure") {
  console.error(`failed: ${Cause.pretty(exit.cause).split("\n")[0]}`)
  process.exitCode = 1
}
