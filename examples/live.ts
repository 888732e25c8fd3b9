import { NodeHttpClient } from "@effect/platform-node"
import { Config, Effect, Layer, Stream } from "effect"
import { CompletionModel, RetryingModel } from "effect-retry-layer"
import { Anthropic } from "effect-retry-layer/anthropic"

// The production wiring: the adapter reads its key from the environment (a Redacted, never logged),
// the retry layer decorates it, and Node's HTTP client carries it.
const Model = RetryingModel.layer({ maxAttempts: 4, commitOn: "first-chunk", maxElapsed: "2 minutes" }).pipe(
  Layer.provide(Anthropic.layerConfig({
    apiKey: Config.redacted("ANTHROPIC_API_KEY"),
    model: Config.withDefault(Config.string("ANTHROPIC_MODEL"), "claude-sonnet-4-5")
  })),
  Layer.provide(NodeHttpClient.layerUndici)
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
})

Effect.runPromise(program.pipe(Effect.provide(Model))).catch((error) =>
  console.log(`not run: ${String(error).split("\n")[0]}`)
)
