import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, Redacted, Stream } from "effect"
import { CompletionModel, RetryingModel } from "effect-retry-layer"
import { OpenAI } from "effect-retry-layer/openai"
import { FaultServer } from "effect-retry-layer/testing/server"

const ask = Effect.gen(function*() {
  const model = yield* CompletionModel.CompletionModel
  const stream = yield* model.chatStream({ messages: [{ role: "user", content: "Say hi" }] })
  return yield* Stream.runFold(stream, "", (acc, chunk) => chunk._tag === "TextDelta" ? acc + chunk.text : acc)
})

const program = Effect.gen(function*() {
  // Stand-ins for api.openai.com and an Azure resource. Drop `baseUrl` / use your endpoint for the real ones.
  const server = yield* FaultServer.make()
  yield* server.enqueue(
    FaultServer.openAiError(429, "requests", "Rate limit reached", { "retry-after-ms": "200" }, "rate_limit_exceeded"),
    FaultServer.openAiStream(["Hello from OpenAI"]),
    FaultServer.openAiStream(["Hello from Azure"])
  )
  const apiKey = Redacted.make("sk-...")
  const openai = OpenAI.layer({ apiKey, model: "gpt-4o-mini", baseUrl: `${server.url}/v1` })
  const azure = OpenAI.layerAzure({ apiKey, endpoint: server.url, deployment: "gpt-4o-mini", apiVersion: "2024-10-21" })
  for (const provider of [openai, azure]) {
    const Model = RetryingModel.layer().pipe(Layer.provide(provider), Layer.provide(NodeHttpClient.layerUndici))
    console.log(yield* Effect.provide(ask, Model))
  }
  console.log((yield* server.requests).map((request) => request.url))
})

Effect.runPromise(Effect.scoped(program))
