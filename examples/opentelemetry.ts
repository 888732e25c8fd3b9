import { NodeSdk } from "@effect/opentelemetry"
import { ConsoleSpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer, Logger, LogLevel } from "effect"
import { CompletionModel, RetryingModel } from "effect-retry-layer"
import { ScriptedModel } from "effect-retry-layer/testing"

// Spans to the console: one `chatStream` span per call, one `chatStream.attempt` span per attempt.
const Tracing = NodeSdk.layer(() => ({
  resource: { serviceName: "effect-retry-layer-example" },
  spanProcessor: new SimpleSpanProcessor(new ConsoleSpanExporter())
}))

const Model = RetryingModel.layer({ baseDelay: "50 millis" }).pipe(
  Layer.provide(
    ScriptedModel.layer([ScriptedModel.rateLimited({ retryAfter: "100 millis" }), ScriptedModel.reply("hi")])
  )
)

const program = Effect.gen(function*() {
  const model = yield* CompletionModel.CompletionModel
  yield* model.chatStream({ messages: [{ role: "user", content: "Hi" }] })
})

Effect.runPromise(
  program.pipe(Effect.provide(Model), Effect.provide(Tracing), Logger.withMinimumLogLevel(LogLevel.Error))
)
