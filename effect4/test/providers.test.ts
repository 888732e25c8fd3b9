import { assert, describe, it } from "@effect/vitest"
import { Anthropic } from "effect-retry-layer/anthropic"
import { Bedrock } from "effect-retry-layer/bedrock"
import { OpenAI } from "effect-retry-layer/openai"
import * as AiError from "effect/ai/AiError"
import * as Chat from "effect/ai/Chat"
import * as LanguageModel from "effect/ai/LanguageModel"
import * as Tool from "effect/ai/Tool"
import * as Toolkit from "effect/ai/Toolkit"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientError from "effect/http/HttpClientError"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import * as FaultServer from "../src/core/testing/FaultServer.js"

const GetWeather = Tool.make("GetWeather", {
  description: "The weather in a city",
  parameters: Schema.Struct({ city: Schema.String }),
  success: Schema.String
})
const Tools = Toolkit.make(GetWeather)
const ToolsLive = Tools.toLayer({ GetWeather: ({ city }) => Effect.succeed(`${city}: sunny`) })

const providers = {
  anthropic: (url: string) =>
    Anthropic.layer({ apiKey: Redacted.make("sk-ant-test"), model: "claude-test", baseUrl: url }),
  openai: (url: string) => OpenAI.layer({ apiKey: Redacted.make("sk-test"), model: "gpt-test", baseUrl: url }),
  bedrock: (url: string) =>
    Bedrock.layer({
      region: "us-east-1",
      model: "anthropic.claude-test",
      baseUrl: url,
      credentials: { accessKeyId: Redacted.make("AKIDTEST"), secretAccessKey: Redacted.make("secret") }
    })
}

// A server, and `f` run with the provider's LanguageModel pointed at it.
const withServer = <A, E>(
  provider: keyof typeof providers,
  f: (server: FaultServer.Server) => Effect.Effect<A, E, LanguageModel.LanguageModel>
) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* FaultServer.make()
    return yield* f(server).pipe(
      Effect.provide(providers[provider](server.url).pipe(Layer.provide(FetchHttpClient.layer), Layer.orDie))
    )
  }))

type Calls = FaultServer.StreamShape["toolCalls"]
const weather: Calls = [{ id: "call_1", name: "GetWeather", input: { city: "Paris" } }]
const replies = {
  anthropic: {
    text: (pieces: ReadonlyArray<string>) => FaultServer.anthropicStream(pieces, { inputTokens: 7, outputTokens: 3 }),
    tool: (toolCalls: Calls = weather) => FaultServer.anthropicStream([], { toolCalls })
  },
  openai: {
    text: (pieces: ReadonlyArray<string>) => FaultServer.openAiStream(pieces, { inputTokens: 7, outputTokens: 3 }),
    tool: (toolCalls: Calls = weather) => FaultServer.openAiStream([], { toolCalls })
  },
  bedrock: {
    text: (pieces: ReadonlyArray<string>) => FaultServer.bedrockStream(pieces, { inputTokens: 7, outputTokens: 3 }),
    tool: (toolCalls: Calls = weather) => FaultServer.bedrockStream([], { toolCalls })
  }
} as const

// The server answers in real time and the retry waits in virtual time: each step lets the loopback I/O settle
// (a macrotask), then moves the clock. A wait registered late only starts late, so no assertion below can pass
// early.
const settle = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 5)))
const advance = (total: number, step = 100) =>
  Effect.gen(function*() {
    for (let moved = 0; moved < total; moved += step) {
      yield* settle
      yield* TestClock.adjust(step)
    }
    yield* settle
  })

describe("the providers as effect/ai LanguageModels", () => {
  for (const provider of ["anthropic", "openai", "bedrock"] as const) {
    it.live(`${provider}: generateText gives the text and the usage`, () =>
      withServer(provider, (server) =>
        Effect.gen(function*() {
          yield* server.enqueue(replies[provider].text(["Hello", ", world"]))
          const response = yield* LanguageModel.generateText({ prompt: "Hi" })
          assert.strictEqual(response.text, "Hello, world")
          assert.strictEqual(response.finishReason, "stop")
          assert.strictEqual(response.usage.inputTokens.total, 7)
          assert.strictEqual(response.usage.outputTokens.total, 3)
        })))

    it.live(`${provider}: a tool round trip, the handler run by effect/ai and its result sent back`, () =>
      withServer(provider, (server) =>
        Effect.gen(function*() {
          yield* server.enqueue(replies[provider].tool(), replies[provider].text(["Sunny in Paris."]))
          const chat = yield* Chat.empty
          const first = yield* chat.generateText({ prompt: "Weather in Paris?", toolkit: Tools })
          assert.strictEqual(first.toolCalls.length, 1)
          assert.deepStrictEqual(first.toolCalls[0]!.params, { city: "Paris" })
          assert.strictEqual(first.toolResults[0]!.result, "Paris: sunny")
          assert.strictEqual(first.finishReason, "tool-calls")
          const second = yield* chat.generateText({ prompt: [], toolkit: Tools })
          assert.strictEqual(second.text, "Sunny in Paris.")
          const sent = JSON.stringify((yield* server.requests)[1]!.json)
          assert.include(sent, "Paris: sunny")
          assert.include(sent, "call_1")
        }).pipe(Effect.provide(ToolsLive))))
  }

  for (const provider of ["anthropic", "openai", "bedrock"] as const) {
    it.live(`${provider}: generateObject asks for one tool the model must call, and its input is the object`, () =>
      withServer(provider, (server) =>
        Effect.gen(function*() {
          const Weather = Schema.Struct({ city: Schema.String, celsius: Schema.Number })
          const call = [{ id: "call_o", name: "weather", input: { city: "Paris", celsius: 21 } }]
          yield* server.enqueue(replies[provider].tool(call))
          const response = yield* LanguageModel.generateObject({
            prompt: "The weather in Paris?",
            schema: Weather,
            objectName: "weather"
          })
          assert.deepStrictEqual(response.value, { city: "Paris", celsius: 21 })
          assert.strictEqual(response.finishReason, "stop")
          const sent = JSON.stringify((yield* server.requests)[0]!.json)
          assert.include(sent, "\"weather\"")
          assert.include(sent, "celsius")
        })))
  }

  it.live("a prompt a provider cannot take (a file by URL) fails with an InvalidRequestError, nothing sent", () =>
    withServer("anthropic", (server) =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(LanguageModel.generateText({
          prompt: [{
            role: "user",
            content: [{ type: "file", mediaType: "application/pdf", data: new URL("https://example.com/a.pdf") }]
          }]
        }))
        assert.strictEqual(error.reason._tag, "InvalidRequestError")
        assert.strictEqual((yield* server.requests).length, 0)
      })))

  it.live("a connection that breaks before any answer is a NetworkError naming the request's address", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make()
      yield* server.enqueue(FaultServer.reset)
      const model = Anthropic.layer({ apiKey: Redacted.make("sk-ant"), model: "m", baseUrl: server.url, retry: false })
      const error = yield* Effect.flip(
        LanguageModel.generateText({ prompt: "Hi" }).pipe(
          Effect.provide(model.pipe(Layer.provide(FetchHttpClient.layer), Layer.orDie))
        )
      )
      assert.strictEqual(error.reason._tag, "NetworkError")
      if (error.reason._tag === "NetworkError") assert.strictEqual(error.reason.url, `${server.url}/v1/messages`)
    })))

  it.live("anthropic: reasoning arrives as reasoning parts, its signature kept for the next turn", () =>
    withServer("anthropic", (server) =>
      Effect.gen(function*() {
        yield* server.enqueue(
          FaultServer.stream([
            FaultServer.event(
              { type: "message_start", message: { usage: { input_tokens: 5, output_tokens: 1 } } },
              "message_start"
            ),
            FaultServer.event(
              { type: "content_block_start", index: 0, content_block: { type: "thinking" } },
              "content_block_start"
            ),
            FaultServer.event({
              type: "content_block_delta",
              index: 0,
              delta: { type: "thinking_delta", thinking: "Let me see." }
            }, "content_block_delta"),
            FaultServer.event({
              type: "content_block_delta",
              index: 0,
              delta: { type: "signature_delta", signature: "sig-1" }
            }, "content_block_delta"),
            FaultServer.event({ type: "content_block_stop", index: 0 }, "content_block_stop"),
            FaultServer.event(
              { type: "content_block_start", index: 1, content_block: { type: "text" } },
              "content_block_start"
            ),
            FaultServer.event(
              { type: "content_block_delta", index: 1, delta: { type: "text_delta", text: "42" } },
              "content_block_delta"
            ),
            FaultServer.event({ type: "content_block_stop", index: 1 }, "content_block_stop"),
            FaultServer.event({
              type: "message_delta",
              delta: { stop_reason: "end_turn" },
              usage: { output_tokens: 9 }
            }, "message_delta"),
            FaultServer.event({ type: "message_stop" }, "message_stop")
          ]),
          replies.anthropic.text(["ok"])
        )
        const chat = yield* Chat.empty
        const first = yield* chat.generateText({ prompt: "Think" })
        assert.strictEqual(first.reasoningText, "Let me see.")
        assert.strictEqual(first.text, "42")
        yield* chat.generateText({ prompt: "Again" })
        const sent = (yield* server.requests)[1]!.json as { messages: Array<{ content: Array<unknown> }> }
        assert.deepStrictEqual(sent.messages[1]!.content[0], {
          type: "thinking",
          thinking: "Let me see.",
          signature: "sig-1"
        })
      })))

  it.effect("anthropic: a 429 with retry-after-ms is retried after at least its hint, a 529 after backoff", () =>
    withServer("anthropic", (server) =>
      Effect.gen(function*() {
        yield* server.enqueue(
          FaultServer.anthropicError(429, "rate_limit_error", "slow down", { "retry-after-ms": "3000" }),
          FaultServer.anthropicError(529, "overloaded_error", "Overloaded"),
          replies.anthropic.text(["done"])
        )
        const fiber = yield* Effect.forkChild(LanguageModel.generateText({ prompt: "Hi" }))
        yield* server.awaitRequests(1)
        yield* advance(2_900)
        assert.strictEqual((yield* server.requests).length, 1)
        yield* advance(60_000, 1_000)
        const response = yield* Fiber.join(fiber)
        assert.strictEqual(response.text, "done")
        assert.strictEqual((yield* server.requests).length, 3)
      })))

  it.effect("anthropic: a 200 whose first event is an error is retried; one broken after content is not replayed", () =>
    withServer("anthropic", (server) =>
      Effect.gen(function*() {
        yield* server.enqueue(
          FaultServer.stream([FaultServer.anthropicErrorEvent("overloaded_error", "Overloaded")]),
          FaultServer.stream(FaultServer.anthropicEvents(["partial"], { interrupt: [FaultServer.resetStream] }))
        )
        const parts: Array<string> = []
        const fiber = yield* Effect.forkChild(
          LanguageModel.streamText({ prompt: "Hi" }).pipe(
            Stream.runForEach((part) =>
              Effect.sync(() => parts.push(part.type === "text-delta" ? part.delta : part.type))
            ),
            Effect.exit
          )
        )
        yield* server.awaitRequests(1)
        yield* advance(60_000, 1_000)
        const exit = yield* Fiber.join(fiber)
        const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
        assert.isTrue(Option.isSome(error) && AiError.isAiError(error.value))
        assert.include(parts, "partial")
        yield* advance(60_000, 1_000)
        assert.strictEqual((yield* server.requests).length, 2)
      })))

  it.effect("over a client in Effect 4's withCircuitBreaker: an open circuit is a CircuitOpenError, waited out", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* FaultServer.make()
      yield* server.enqueue(replies.anthropic.text(["after the circuit"]))
      let refusals = 0
      // The first request meets the breaker open for 2 s (as `HttpClient.withCircuitBreaker` fails), the next goes on.
      const Guarded = Layer.effect(
        HttpClient.HttpClient,
        Effect.map(HttpClient.HttpClient, (client) =>
          HttpClient.make((request) =>
            refusals++ === 0
              ? Effect.fail(
                new CircuitBreaker.CircuitBreakerError({
                  reason: new CircuitBreaker.CircuitOpen({ key: "anthropic", retryAfter: Duration.seconds(2) })
                }) as unknown as HttpClientError.HttpClientError
              )
              : client.execute(request)
          ))
      ).pipe(Layer.provide(FetchHttpClient.layer))
      const Model = Anthropic.layer({ apiKey: Redacted.make("sk"), model: "m", baseUrl: server.url }).pipe(
        Layer.provide(Guarded),
        Layer.orDie
      )
      const fiber = yield* Effect.forkChild(LanguageModel.generateText({ prompt: "Hi" }).pipe(Effect.provide(Model)))
      yield* advance(1_900)
      assert.strictEqual(refusals, 1)
      assert.strictEqual((yield* server.requests).length, 0)
      yield* advance(60_000, 1_000)
      const response = yield* Fiber.join(fiber)
      assert.strictEqual(response.text, "after the circuit")
      assert.strictEqual((yield* server.requests).length, 1)
    })))

  it.effect("anthropic: interrupted while it waits to retry, no further request is sent", () =>
    withServer("anthropic", (server) =>
      Effect.gen(function*() {
        yield* server.enqueue(FaultServer.anthropicError(429, "rate_limit_error", "slow down", { "retry-after": "30" }))
        const fiber = yield* Effect.forkChild(LanguageModel.generateText({ prompt: "Hi" }))
        yield* server.awaitRequests(1)
        yield* Fiber.interrupt(fiber)
        yield* advance(60_000, 10_000)
        assert.strictEqual((yield* server.requests).length, 1)
        // Nothing left in flight: the 429's response was read and finished, not held by the interrupted call.
        assert.strictEqual(yield* server.inFlight, 0)
      })))
})
