/**
 * The demo: the Anthropic adapter behind `RetryingModel.layer`, against a
 * loopback server that answers 429 (Retry-After: 1), then 529, then streams.
 *
 *   npm run demo                         the embedded loopback server
 *   npm run demo -- --effect-ai          the same scenario through @effect/ai-anthropic's LanguageModel
 *   npm run demo -- --live               the real API, with ANTHROPIC_API_KEY or OPENAI_API_KEY set
 */
import { LanguageModel } from "@effect/ai"
import { AnthropicClient, AnthropicLanguageModel } from "@effect/ai-anthropic"
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Cause, Config, Console, Effect, Layer, Logger, Redacted, Stream } from "effect"
import { CompletionModel, RetryingModel } from "effect-retry-layer"
import { RetryingLanguageModel } from "effect-retry-layer/ai"
import { Anthropic } from "effect-retry-layer/anthropic"
import { OpenAI } from "effect-retry-layer/openai"
import { FaultServer } from "effect-retry-layer/testing/server"

const answer = [
  "Retries ",
  "that ",
  "honour ",
  "Retry-After, ",
  "skip ",
  "what ",
  "must ",
  "not ",
  "be ",
  "retried, ",
  "and ",
  "never ",
  "replay ",
  "a ",
  "stream."
]

/** The loopback server, scripted: a 429 (Retry-After: 1), a 529, then the answer at a reading pace. */
const loopback = Effect.gen(function*() {
  const server = yield* FaultServer.make()
  yield* server.enqueue(
    FaultServer.anthropicError(429, "rate_limit_error", "Number of requests has exceeded your rate limit", {
      "retry-after": "1"
    }),
    FaultServer.anthropicError(529, "overloaded_error", "Overloaded"),
    FaultServer.stream(FaultServer.anthropicEvents(answer).flatMap((event) => [event, FaultServer.pause(40)]))
  )
  yield* Console.log(`loopback server on ${server.url}`)
  return server.url
})

/** The Anthropic adapter pointed at the loopback server. */
const Loopback = Layer.unwrapScoped(
  Effect.map(
    loopback,
    (url) => Anthropic.layer({ apiKey: Redacted.make("sk-ant-demo"), model: "claude-demo", baseUrl: url })
  )
)

/** The real provider, for `--live`. */
const Live = Layer.unwrapEffect(Effect.gen(function*() {
  const anthropic = yield* Config.option(Config.redacted("ANTHROPIC_API_KEY"))
  if (anthropic._tag === "Some") {
    const model = yield* Config.withDefault(Config.string("ANTHROPIC_MODEL"), "claude-sonnet-4-5")
    return Anthropic.layer({ apiKey: anthropic.value, model })
  }
  const openai = yield* Config.option(Config.redacted("OPENAI_API_KEY"))
  if (openai._tag === "Some") {
    const model = yield* Config.withDefault(Config.string("OPENAI_MODEL"), "gpt-4o-mini")
    return OpenAI.layer({ apiKey: openai.value, model })
  }
  return yield* Effect.fail(new Error("--live needs ANTHROPIC_API_KEY or OPENAI_API_KEY in the environment"))
}))

const policy = { maxAttempts: 4, baseDelay: "200 millis", maxDelay: "5 seconds" } as const

const Model = RetryingModel.layer(policy).pipe(
  Layer.provide(process.argv.includes("--live") ? Live : Loopback),
  Layer.provide(NodeHttpClient.layerUndici)
)

/** `--effect-ai`: @effect/ai-anthropic's LanguageModel over the same loopback server, behind the same policy. */
const EffectAiModel = RetryingLanguageModel.layer(policy).pipe(
  Layer.provide(Layer.unwrapScoped(Effect.map(loopback, (url) =>
    AnthropicLanguageModel.model("claude-demo").pipe(
      Layer.provide(AnthropicClient.layer({ apiKey: Redacted.make("sk-ant-demo"), apiUrl: url }))
    )))),
  Layer.provide(NodeHttpClient.layerUndici)
)

const question = "In one sentence: what does a retry layer for LLM calls do?"

const program = Effect.gen(function*() {
  const model = yield* CompletionModel.CompletionModel
  yield* Console.log(`asking ${model.name}/${model.model}...`)
  const start = Date.now()
  const stream = yield* model.chatStream({
    messages: [{ role: "user", content: question }],
    maxTokens: 200
  })
  yield* Console.log(`stream opened after ${Date.now() - start} ms; answer:`)
  yield* Stream.runForEach(stream, (chunk) => {
    if (chunk._tag === "TextDelta") return Effect.sync(() => process.stdout.write(chunk.text))
    if (chunk._tag === "TurnFinished") {
      const { reason, usage } = chunk
      return Console.log(`\n[finished: ${reason}; ${usage.inputTokens} input, ${usage.outputTokens} output tokens]`)
    }
    return Effect.void
  })
})

const effectAiProgram = Effect.gen(function*() {
  yield* Console.log("asking @effect/ai-anthropic's LanguageModel...")
  const start = Date.now()
  let first = true
  yield* LanguageModel.streamText({ prompt: question }).pipe(
    Stream.runForEach((part) => {
      if (part.type === "text-delta") {
        const opened = first ? `first content part after ${Date.now() - start} ms; answer:\n` : ""
        first = false
        return Effect.sync(() => process.stdout.write(opened + part.delta))
      }
      if (part.type === "finish") {
        const { inputTokens, outputTokens } = part.usage
        return Console.log(`\n[finished: ${part.reason}; ${inputTokens} input, ${outputTokens} output tokens]`)
      }
      return Effect.void
    })
  )
})

const main: Effect.Effect<void, unknown> = process.argv.includes("--effect-ai")
  ? effectAiProgram.pipe(Effect.provide(EffectAiModel))
  : program.pipe(Effect.provide(Model))

main.pipe(
  Effect.provide(Logger.pretty),
  Effect.tapErrorCause((cause) => {
    const error = Cause.squash(cause)
    return Console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`)
  }),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
