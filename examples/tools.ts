import { NodeHttpClient } from "@effect/platform-node"
import { Effect, Layer, Redacted, Stream } from "effect"
import { CompletionModel, RetryingModel } from "effect-retry-layer"
import { Anthropic } from "effect-retry-layer/anthropic"
import { Bedrock } from "effect-retry-layer/bedrock"
import { OpenAI } from "effect-retry-layer/openai"
import { FaultServer } from "effect-retry-layer/testing/server"

// An agent loop: ask with tools, run the tools the model calls, send the results back, until it answers.
const weather = { name: "get_weather", description: "Current weather", inputSchema: { type: "object" } }
const runTool = (name: string, input: unknown) =>
  name === "get_weather" ? `18 C and foggy in ${(input as { location: string }).location}` : `unknown tool ${name}`

const agent = (question: string) =>
  Effect.gen(function*() {
    const model = yield* CompletionModel.CompletionModel
    const messages: Array<CompletionModel.Message> = [{ role: "user", content: question }]
    for (let turn = 1; turn <= 5; turn++) {
      const stream = yield* model.chatStream({ messages, tools: [weather] })
      const chunks = yield* Stream.runCollect(stream)
      let text = ""
      const calls: Array<CompletionModel.ContentBlock> = []
      for (const chunk of chunks) {
        if (chunk._tag === "TextDelta") text += chunk.text
        if (chunk._tag === "ToolCallEnd") {
          calls.push({ type: "tool_use", id: chunk.id, name: chunk.name, input: chunk.arguments })
        }
      }
      if (calls.length === 0) return text
      messages.push({ role: "assistant", content: [...(text ? [{ type: "text" as const, text }] : []), ...calls] })
      messages.push({
        role: "user",
        content: calls.map((call) =>
          call.type === "tool_use"
            ? { type: "tool_result" as const, toolUseId: call.id, content: runTool(call.name, call.input) }
            : call
        )
      })
    }
    return "gave up after 5 turns"
  })

const program = Effect.gen(function*() {
  // Stand-ins for each API: an overload first (retried), a tool call, then the answer that uses its result.
  const server = yield* FaultServer.make()
  const call = { id: "call_1", name: "get_weather", input: { location: "Paris" } }
  yield* server.enqueue(
    FaultServer.anthropicError(529, "overloaded_error", "Overloaded"),
    FaultServer.anthropicStream([], { toolCalls: [call] }),
    FaultServer.anthropicStream(["Paris: 18 C, foggy."]),
    FaultServer.openAiError(503, "server_error", "busy"),
    FaultServer.openAiStream([], { toolCalls: [call] }),
    FaultServer.openAiStream(["Paris: 18 C, foggy."]),
    FaultServer.bedrockError(429, "ThrottlingException", "Too many requests"),
    FaultServer.bedrockStream([], { toolCalls: [call] }),
    FaultServer.bedrockStream(["Paris: 18 C, foggy."])
  )
  const retrying = RetryingModel.layer({ baseDelay: "50 millis" })
  const apiKey = Redacted.make("sk-...")
  const models = [
    ["Anthropic", Anthropic.layer({ apiKey, model: "claude-sonnet-4-5", baseUrl: server.url })],
    ["OpenAI", OpenAI.layer({ apiKey, model: "gpt-4o", baseUrl: `${server.url}/v1` })],
    [
      "Bedrock",
      Bedrock.layer({
        region: "us-east-1",
        model: "anthropic.claude-3-5-sonnet-20240620-v1:0",
        baseUrl: server.url,
        credentials: { accessKeyId: Redacted.make("AKID..."), secretAccessKey: Redacted.make("...") }
      })
    ]
  ] as const
  for (const [name, adapter] of models) {
    const answer = yield* agent("Weather in Paris?").pipe(
      Effect.provide(retrying.pipe(Layer.provide(adapter), Layer.provide(NodeHttpClient.layerUndici)))
    )
    console.log(`${name}: ${answer}`)
  }
  const sent = yield* server.requests
  const toolResult = sent[2]?.json as { messages: ReadonlyArray<{ content: unknown }> }
  console.log(
    `${sent.length} requests; the tool's result went back as ${JSON.stringify(toolResult.messages[2]?.content)}`
  )
})

Effect.runPromise(Effect.scoped(program))
