/**
 * An agent loop with a tool over each provider of the Effect 4 line (Anthropic, OpenAI, Bedrock), against the
 * loopback server: each answers its first request with its own throttling error, then calls the tool, then, with
 * the tool's result in the conversation, answers. `effect/ai`'s `Chat` keeps the conversation and runs the tool;
 * the provider retries the throttled request. Run from effect4/: `npx tsx examples/providers.ts`.
 */
import { Console, Effect, Layer, Redacted, Schema } from "effect"
import { Chat, type LanguageModel, Tool, Toolkit } from "effect/ai"
// The fetch client: @effect/platform-node 4's undici client needs Node 22 (zstd); fetch runs on Node 20 too.
import { Anthropic } from "effect-retry-layer/anthropic"
import { Bedrock } from "effect-retry-layer/bedrock"
import { OpenAI } from "effect-retry-layer/openai"
import { FaultServer } from "effect-retry-layer/testing/server"
import { FetchHttpClient } from "effect/http"

const GetWeather = Tool.make("GetWeather", {
  description: "The weather in a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.String
})
const Tools = Toolkit.make(GetWeather)
const ToolsLive = Tools.toLayer({ GetWeather: ({ city }) => Effect.succeed(`${city}: sunny, 21 C`) })

const call = [{ id: "call_1", name: "GetWeather", input: { city: "Paris" } }]
const answer = ["It is sunny ", "in Paris, 21 C."]
const retry = { baseDelay: "100 millis" } as const

// Each provider: its layer at a URL, and its script (its throttling error, the tool call, the answer).
const providers: ReadonlyArray<{
  readonly name: string
  readonly layer: (url: string) => Layer.Layer<LanguageModel.LanguageModel, unknown, never>
  readonly script: ReadonlyArray<FaultServer.Reply>
}> = [
  {
    name: "anthropic",
    layer: (url) =>
      Anthropic.layer({ apiKey: Redacted.make("sk-ant-demo"), model: "claude-demo", baseUrl: url, retry }).pipe(
        Layer.provide(FetchHttpClient.layer)
      ),
    script: [
      FaultServer.anthropicError(429, "rate_limit_error", "slow down", { "retry-after-ms": "200" }),
      FaultServer.anthropicStream([], { toolCalls: call }),
      FaultServer.anthropicStream(answer)
    ]
  },
  {
    name: "openai",
    layer: (url) =>
      OpenAI.layer({ apiKey: Redacted.make("sk-demo"), model: "gpt-demo", baseUrl: url, retry }).pipe(
        Layer.provide(FetchHttpClient.layer)
      ),
    script: [
      FaultServer.openAiError(429, "requests", "Rate limit reached", { "retry-after-ms": "200" }),
      FaultServer.openAiStream([], { toolCalls: call }),
      FaultServer.openAiStream(answer)
    ]
  },
  {
    name: "bedrock",
    layer: (url) =>
      Bedrock.layer({
        region: "us-east-1",
        model: "anthropic.claude-demo",
        baseUrl: url,
        retry,
        credentials: { accessKeyId: Redacted.make("AKIDDEMO"), secretAccessKey: Redacted.make("demo") }
      }).pipe(Layer.provide(FetchHttpClient.layer)),
    script: [
      FaultServer.bedrockError(429, "ThrottlingException", "Too many requests", { "retry-after": "0.2" }),
      FaultServer.bedrockStream([], { toolCalls: call }),
      FaultServer.bedrockStream(answer)
    ]
  }
]

const agent = Effect.gen(function*() {
  const chat = yield* Chat.empty
  let response = yield* chat.generateText({ prompt: "What is the weather in Paris?", toolkit: Tools })
  // Each turn that ends in tool calls goes back to the model with their results, which the Chat keeps.
  while (response.finishReason === "tool-calls") response = yield* chat.generateText({ prompt: [], toolkit: Tools })
  return response.text
})

const program = Effect.forEach(providers, ({ layer, name, script }) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* FaultServer.make()
    yield* server.enqueue(...script)
    const text = yield* agent.pipe(Effect.provide(Layer.merge(layer(server.url), ToolsLive)))
    const requests = (yield* server.requests).length
    yield* Console.log(`${name}: ${text} (${requests} requests: the 429 retried, then the tool call, then the answer)`)
  })), { discard: true })

await Effect.runPromise(program)
