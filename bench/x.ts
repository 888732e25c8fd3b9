import { Effect, Stream } from "effect"
import { CompletionModel, RetryingModel } from "effect-retry-layer"
const stream = Stream.make(CompletionModel.StreamChunk.TextDelta({ text: "x" }))
const bare: CompletionModel.Service = { name: "bare", model: "m", chatStream: () => Effect.succeed(stream) }
const retrying = RetryingModel.make(bare)
const req = { messages: [] }
const loop = Effect.gen(function*() { for (let i = 0; i < 200_000; i++) yield* retrying.chatStream(req) }).pipe(Effect.withTracerEnabled(false))
const t = Date.now(); Effect.runSync(loop); console.log((Date.now() - t) * 1e6 / 200_000, "ns/call")
