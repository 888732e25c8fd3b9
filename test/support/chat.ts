import type { CompletionModel } from "effect-retry-layer"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"

/** Opens a stream and reads it to the end: the chunks the caller received, and how it ended. */
export const consume = (model: CompletionModel.Service, request: CompletionModel.ChatRequest) =>
  Effect.gen(function*() {
    const chunks: Array<CompletionModel.StreamChunk> = []
    const exit = yield* model.chatStream(request).pipe(
      Effect.flatMap((stream) => Stream.runForEach(stream, (chunk) => Effect.sync(() => chunks.push(chunk)))),
      Effect.exit
    )
    return { chunks, exit }
  })

/** The expected failure of an exit, if it has one. */
export const failure = <A, E>(exit: Exit.Exit<A, E>): E | undefined =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

export const texts = (chunks: ReadonlyArray<CompletionModel.StreamChunk>) =>
  chunks.flatMap((chunk) => chunk._tag === "TextDelta" ? [chunk.text] : [])

/** A tool turn: a question with an image, the model's thinking and tool call, and the tool's result. */
export const weatherSchema = {
  type: "object",
  properties: { location: { type: "string" } },
  required: ["location"]
} as const

export const toolTurn: CompletionModel.ChatRequest = {
  tools: [{ name: "get_weather", description: "Weather now", inputSchema: weatherSchema }],
  toolChoice: "auto",
  messages: [
    {
      role: "user",
      content: [{ type: "text", text: "Weather in SF?" }, {
        type: "image",
        mediaType: "image/png",
        data: "iVBORw0KGgo="
      }]
    },
    {
      role: "assistant",
      content: [
        { type: "thinking", thinking: "Use the tool.", signature: "sig" },
        { type: "tool_use", id: "toolu_01", name: "get_weather", input: { location: "SF" } }
      ]
    },
    { role: "user", content: [{ type: "tool_result", toolUseId: "toolu_01", content: "18 C, fog", isError: false }] }
  ]
}
