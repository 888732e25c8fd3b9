/**
 * The Effect 4 half of `npm run bench -- lines` (run by bench/lines.ts, on effect4/dist): the per-call cost of
 * RetryingLanguageModel over an effect/ai LanguageModel that answers at once, against that model bare. Prints
 * its rows as JSON.
 */
import { Effect, Layer, ManagedRuntime, Stream } from "effect"
import { RetryingLanguageModel } from "effect-retry-layer"
import { LanguageModel, type Response } from "effect/ai"
import { measure } from "../../bench/support/perCall.js"

const batch = 1_000
const usage = { inputTokens: { total: 3 }, outputTokens: { total: 2 } }
const parts: Array<Response.StreamPartEncoded> = [
  { type: "text-start", id: "t" },
  { type: "text-delta", id: "t", delta: "hello" },
  { type: "text-end", id: "t" },
  { type: "finish", reason: "stop", usage }
]
const bare = Layer.effect(
  LanguageModel.LanguageModel,
  LanguageModel.make({
    generateText: () => Effect.succeed([{ type: "text", text: "hello" }, { type: "finish", reason: "stop", usage }]),
    streamText: () => Stream.fromIterable(parts)
  })
)
const retrying = RetryingLanguageModel.layer().pipe(Layer.provide(bare))

const batchOf = (call: Effect.Effect<unknown, unknown, LanguageModel.LanguageModel>) =>
  Effect.gen(function*() {
    for (let i = 0; i < batch; i++) yield* call
  })
const text = batchOf(LanguageModel.generateText({ prompt: "hi" }))
const stream = batchOf(Stream.runDrain(LanguageModel.streamText({ prompt: "hi" })))

// One runtime per model, built before timing: the batch of calls is what is timed.
const runtimeOf = <E>(layer: Layer.Layer<LanguageModel.LanguageModel, E>) => ManagedRuntime.make(layer)
const plain = runtimeOf(bare)
const wrapped = runtimeOf(retrying)

const rows = [
  ...await measure("Effect 4: generateText, no I/O", "bare LanguageModel", {
    "bare LanguageModel": () => plain.runPromise(text),
    "RetryingLanguageModel": () => wrapped.runPromise(text)
  }, batch),
  ...await measure("Effect 4: streamText drained, no I/O", "bare LanguageModel", {
    "bare LanguageModel": () => plain.runPromise(stream),
    "RetryingLanguageModel": () => wrapped.runPromise(stream)
  }, batch)
]
console.log(JSON.stringify(rows))
await Promise.all([plain.dispose(), wrapped.dispose()])
