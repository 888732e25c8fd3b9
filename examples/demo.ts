/**
 * The demo: a model that fails twice (a 429 with Retry-After, then a 529) and
 * then streams its answer, behind `RetryingModel.layer`.
 *
 *   npm run demo
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Logger, Stream } from "effect"
import { CompletionModel, RetryingModel } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"

const Model = RetryingModel.layer({ maxAttempts: 4, baseDelay: "200 millis", maxDelay: "2 seconds" }).pipe(
  Layer.provide(ScriptedModel.layer([
    ScriptedModel.rateLimited({ retryAfter: "500 millis", message: "rate limited, retry after 500 ms" }),
    ScriptedModel.overloaded({ message: "overloaded" }),
    ScriptedModel.reply("Retries ", "that ", "respect ", "Retry-After ", "and ", "never ", "replay ", "a stream.")
  ]))
)

const program = Effect.gen(function*() {
  const model = yield* CompletionModel.CompletionModel
  yield* Console.log(`asking ${model.name}/${model.model}...`)
  const start = Date.now()
  const stream = yield* model.chatStream({ messages: [{ role: "user", content: "What does this library do?" }] })
  yield* Console.log(`stream opened after ${Date.now() - start} ms; answer:`)
  yield* stream.pipe(
    Stream.tap(() => Effect.sleep("60 millis")),
    Stream.runForEach((chunk) =>
      CompletionModel.StreamChunk.$match(chunk, {
        TextDelta: ({ text }) => Effect.sync(() => process.stdout.write(text)),
        TurnFinished: ({ reason, usage }) => Console.log(`\n[finished: ${reason}, ${usage.outputTokens} output tokens]`)
      })
    )
  )
})

program.pipe(Effect.provide(Model), Effect.provide(Logger.pretty), NodeRuntime.runMain)
