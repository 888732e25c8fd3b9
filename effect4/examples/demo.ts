/**
 * The demo on Effect 4: the Anthropic provider (an `effect/ai` `LanguageModel`, retried), against a loopback
 * server that answers 429 (Retry-After: 1), then 529, then streams the answer.
 *
 *   npm run demo                   the embedded loopback server
 *   npm run demo -- --live         the real API, with ANTHROPIC_API_KEY or OPENAI_API_KEY set
 *   npm run demo:effect3           the Effect 3 line's demo
 */
import { Cause, Config, Console, Effect, Layer, Redacted, Stream } from "effect"
import { LanguageModel } from "effect/ai"
// The fetch client: @effect/platform-node 4's undici client needs Node 22 (zstd); fetch runs on Node 20 too.
import { Anthropic } from "effect-retry-layer/anthropic"
import { OpenAI } from "effect-retry-layer/openai"
import { FaultServer } from "effect-retry-layer/testing/server"
import { FetchHttpClient } from "effect/http"

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

const retry = { maxAttempts: 4, baseDelay: "200 millis", maxDelay: "5 seconds" } as const

/** The Anthropic provider pointed at the loopback server, scripted: a 429 (Retry-After: 1), a 529, the answer. */
const Loopback = Layer.unwrap(Effect.gen(function*() {
  const server = yield* FaultServer.make()
  yield* server.enqueue(
    FaultServer.anthropicError(429, "rate_limit_error", "Number of requests has exceeded your rate limit", {
      "retry-after": "1"
    }),
    FaultServer.anthropicError(529, "overloaded_error", "Overloaded"),
    FaultServer.stream(FaultServer.anthropicEvents(answer).flatMap((event) => [event, FaultServer.pause(40)]))
  )
  yield* Console.log(`loopback server on ${server.url}`)
  return Anthropic.layer({ apiKey: Redacted.make("sk-ant-demo"), model: "claude-demo", baseUrl: server.url, retry })
}))

/** The real provider, for `--live`. */
const Live = Layer.unwrap(Effect.gen(function*() {
  const anthropic = yield* Config.option(Config.Redacted("ANTHROPIC_API_KEY"))
  if (anthropic._tag === "Some") {
    const model = yield* Config.withDefault(Config.String("ANTHROPIC_MODEL"), "claude-sonnet-4-5")
    return Anthropic.layer({ apiKey: anthropic.value, model, retry })
  }
  const openai = yield* Config.option(Config.Redacted("OPENAI_API_KEY"))
  if (openai._tag === "Some") {
    const model = yield* Config.withDefault(Config.String("OPENAI_MODEL"), "gpt-4o-mini")
    return OpenAI.layer({ apiKey: openai.value, model, retry })
  }
  return yield* Effect.fail(new Error("--live needs ANTHROPIC_API_KEY or OPENAI_API_KEY in the environment"))
}))

const Model = (process.argv.includes("--live") ? Live : Loopback).pipe(Layer.provide(FetchHttpClient.layer))

const program = Effect.gen(function*() {
  yield* Console.log("asking the model...")
  const start = Date.now()
  let first = true
  yield* LanguageModel.streamText({ prompt: "In one sentence: what does a retry layer for LLM calls do?" }).pipe(
    Stream.runForEach((part) => {
      if (part.type === "text-delta") {
        const opened = first ? `first content after ${Date.now() - start} ms; answer:\n` : ""
        first = false
        return Effect.sync(() => process.stdout.write(opened + part.delta))
      }
      if (part.type === "finish") {
        const { inputTokens, outputTokens } = part.usage
        return Console.log(
          `\n[finished: ${part.reason}; ${inputTokens.total} input, ${outputTokens.total} output tokens]`
        )
      }
      return Effect.void
    })
  )
})

const exit = await Effect.runPromiseExit(program.pipe(Effect.provide(Model), Effect.scoped))
if (exit._tag === "Failure") {
  const error = Cause.squash(exit.cause)
  console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`)
  process.exitCode = 1
}
