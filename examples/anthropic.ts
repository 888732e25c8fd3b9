import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, Redacted, Stream } from "effect"
import { CompletionModel, RetryingModel } from "effect-retry-layer"
import { Anthropic } from "effect-retry-layer/anthropic"
import { FaultServer } from "effect-retry-layer/testing/server"

const program = Effect.gen(function*() {
  // A stand-in for api.anthropic.com: one 529, then an answer. Drop `baseUrl` to call the real API.
  const server = yield* FaultServer.make()
  yield* server.enqueue(
    FaultServer.anthropicError(529, "overloaded_error", "Overloaded"),
    FaultServer.anthropicStream(["Hi", "!"])
  )
  const Model = RetryingModel.layer({ baseDelay: "100 millis" }).pipe(
    Layer.provide(
      Anthropic.layer({ apiKey: Redacted.make("sk-ant-..."), model: "claude-sonnet-4-5", baseUrl: server.url })
    ),
    Layer.provide(NodeHttpClient.layerUndici)
  )
  const text = yield* Effect.gen(function*() {
    const model = yield* CompletionModel.CompletionModel
    const stream = yield* model.chatStream({ messages: [{ role: "user", content: "Say hi" }], maxTokens: 100 })
    return yield* Stream.runFold(stream, "", (acc, chunk) => chunk._tag === "TextDelta" ? acc + chunk.text : acc)
  }).pipe(Effect.provide(Model))
  console.log(text, `(${(yield* server.requests).length} requests)`)
})

Effect.runPromise(Effect.scoped(program))
