// Anthropic, then OpenAI, with an ExecutionPlan: the retry layer inside each step retries within a provider first;
// the plan falls back only before the first content part (preventFallbackOnPartialStream), so nothing is shown twice.
import { LanguageModel } from "@effect/ai"
import { AnthropicClient, AnthropicLanguageModel } from "@effect/ai-anthropic"
import { OpenAiClient, OpenAiLanguageModel } from "@effect/ai-openai"
import { NodeHttpClient } from "@effect/platform-node"
import { Console, Effect, ExecutionPlan, Layer, Redacted, Stream } from "effect"
import { RetryingLanguageModel } from "effect-retry-layer/ai"
import { FaultServer } from "effect-retry-layer/testing/server"

// An overload that outlasts the retries fails the stream (instead of ending it with an error part): the plan sees it.
const Retrying = RetryingLanguageModel.layer({ maxAttempts: 3 }, { errorPartBeforeContent: "fail" })

Effect.gen(function*() {
  const [anthropic, openai] = [yield* FaultServer.make(), yield* FaultServer.make()]
  yield* anthropic.enqueue(
    ...Array.from({ length: 3 }, () => FaultServer.anthropicError(529, "overloaded_error", "Overloaded"))
  )
  yield* openai.enqueue(FaultServer.openAiResponsesStream(["Hello ", "from OpenAI"]))

  const plan = ExecutionPlan.make(
    {
      provide: Retrying.pipe(
        Layer.provide(AnthropicLanguageModel.model("claude-sonnet-4-5")),
        Layer.provide(AnthropicClient.layer({ apiKey: Redacted.make("sk-ant-x"), apiUrl: anthropic.url }))
      )
    },
    {
      provide: Retrying.pipe(
        Layer.provide(OpenAiLanguageModel.model("gpt-4.1")),
        Layer.provide(OpenAiClient.layer({ apiKey: Redacted.make("sk-x"), apiUrl: `${openai.url}/v1` }))
      )
    }
  )

  const text = yield* LanguageModel.streamText({ prompt: "Say hello." }).pipe(
    Stream.withExecutionPlan(plan, { preventFallbackOnPartialStream: true }),
    Stream.runFold("", (text, part) => part.type === "text-delta" ? text + part.delta : text),
    Effect.provide(NodeHttpClient.layerUndici)
  )
  const tried = (yield* anthropic.requests).length
  yield* Console.log(`${text} (after ${tried} Anthropic requests, then ${(yield* openai.requests).length} to OpenAI)`)
}).pipe(Effect.scoped, Effect.runPromise)
