/**
 * An agent loop on Effect 4: `effect/ai`'s `Chat` with a tool, over a `LanguageModel` decorated by
 * `RetryingLanguageModel`. The model here is one you might write (or test with): it answers as a provider
 * would, with a 429 first. Run from effect4/: `npx tsx examples/agent.ts`.
 */
import { Effect, Layer, Schema, Stream } from "effect"
import { RetryingLanguageModel } from "effect-retry-layer"
import { AiError, Chat, LanguageModel, type Response, Tool, Toolkit } from "effect/ai"

const GetWeather = Tool.make("GetWeather", {
  description: "The weather in a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.String
})
const Tools = Toolkit.make(GetWeather)

let toolRuns = 0
const ToolsLive = Tools.toLayer({
  GetWeather: ({ city }) =>
    Effect.sync(() => {
      toolRuns++
      return `${city}: sunny, 21 C`
    })
})

// The model: a 429 asking for 200 ms on the first request; then a call of the tool; then, once the tool's result
// is in the conversation, the answer.
let requests = 0
const usage = { inputTokens: { total: 12 }, outputTokens: { total: 8 } }
const finish = (reason: "stop" | "tool-calls"): Response.PartEncoded => ({ type: "finish", reason, usage })
const Model = Layer.effect(
  LanguageModel.LanguageModel,
  LanguageModel.make({
    generateText: ({ prompt }) =>
      Effect.suspend(() => {
        requests++
        if (requests === 1) {
          return Effect.fail(AiError.make({
            module: "Model",
            method: "generateText",
            reason: new AiError.RateLimitError({
              http: { response: { status: 429, headers: { "retry-after-ms": "200" } } }
            })
          }))
        }
        const answered = prompt.content.some((message) => message.role === "tool")
        return Effect.succeed<Array<Response.PartEncoded>>(
          answered
            ? [{ type: "text", text: "It is sunny in Paris, 21 C." }, finish("stop")]
            : [{ type: "tool-call", id: "call_1", name: "GetWeather", params: { city: "Paris" } }, finish("tool-calls")]
        )
      }),
    streamText: () => Stream.empty
  })
)

const agent = Effect.gen(function*() {
  const chat = yield* Chat.empty
  let response = yield* chat.generateText({ prompt: "What is the weather in Paris?", toolkit: Tools })
  // Each turn that ends in tool calls goes back to the model with their results, which the Chat keeps.
  while (response.finishReason === "tool-calls") response = yield* chat.generateText({ prompt: [], toolkit: Tools })
  return response.text
})

const Retrying = RetryingLanguageModel.layer({ baseDelay: "100 millis" }).pipe(Layer.provide(Model))
const text = await Effect.runPromise(agent.pipe(Effect.provide(Layer.merge(Retrying, ToolsLive))))
console.log(`${text} (${requests} requests: the 429 retried after its 200 ms hint; the tool ran ${toolRuns} time)`)
