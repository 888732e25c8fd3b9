// RetryingLanguageModel over the real @effect/ai providers (@effect/ai-anthropic 0.27, @effect/ai-openai 0.41) and a
// loopback FaultServer: the HTTP is real, the waits are virtual (TestClock), so a wait is seen exactly.
import { AnthropicClient, AnthropicLanguageModel } from "@effect/ai-anthropic"
import { OpenAiClient, OpenAiLanguageModel } from "@effect/ai-openai"
import * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Response from "@effect/ai/Response"
import * as Tool from "@effect/ai/Tool"
import * as Toolkit from "@effect/ai/Toolkit"
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { FleetStore } from "effect-retry-layer"
import { ResilientLanguageModel, RetryingLanguageModel } from "effect-retry-layer/ai"
import { FaultServer } from "effect-retry-layer/testing/server"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as ExecutionPlan from "effect/ExecutionPlan"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Supervisor from "effect/Supervisor"
import * as TestClock from "effect/TestClock"
import * as TestServices from "effect/TestServices"
import { advanceTo, awaitSleep } from "./support/virtualTime.js"

/** What differs between the two providers: their layer over a server, and their wire. */
interface Provider {
  readonly name: string
  readonly model: (server: FaultServer.Server) => Layer.Layer<LanguageModel.LanguageModel>
  readonly stream: typeof FaultServer.anthropicStream
  readonly complete: typeof FaultServer.anthropicMessage
  readonly rateLimited: (headers?: Record<string, string>) => FaultServer.Reply
  readonly overloaded: FaultServer.Reply
  readonly unavailable: (headers?: Record<string, string>) => FaultServer.Reply
  readonly invalid: FaultServer.Reply
  /** The in-band error a 200 can carry, as the provider sends it. */
  readonly errorEvent: FaultServer.StreamItem
  /** A stream's events up to and including the text deltas of `pieces`. */
  readonly opening: (pieces: ReadonlyArray<string>) => ReadonlyArray<FaultServer.StreamItem>
}

/** A stream that says `pieces`, then sends the error event and ends (as both providers end after one). */
const textThenError = (provider: Provider, pieces: ReadonlyArray<string>) =>
  FaultServer.stream([...provider.opening(pieces), provider.errorEvent])

/** A stream that says `pieces`, then drops the connection. */
const textThenReset = (provider: Provider, pieces: ReadonlyArray<string>) =>
  FaultServer.stream([...provider.opening(pieces), FaultServer.resetStream])

const apiKey = Redacted.make("sk-test-SECRET")
const Http = NodeHttpClient.layerUndici

const anthropic: Provider = {
  name: "anthropic",
  model: (server) =>
    AnthropicLanguageModel.model("claude-fault").pipe(
      Layer.provide(AnthropicClient.layer({ apiKey, apiUrl: server.url })),
      Layer.provide(Http)
    ),
  stream: FaultServer.anthropicStream,
  complete: FaultServer.anthropicMessage,
  rateLimited: (headers) => FaultServer.anthropicError(429, "rate_limit_error", "slow down", headers),
  overloaded: FaultServer.anthropicError(529, "overloaded_error", "Overloaded"),
  unavailable: (headers) => FaultServer.anthropicError(503, "api_error", "unavailable", headers),
  invalid: FaultServer.anthropicError(400, "invalid_request_error", "max_tokens: too large"),
  errorEvent: FaultServer.anthropicErrorEvent("overloaded_error", "Overloaded"),
  // message_start, content_block_start, ping, the deltas
  opening: (pieces) => FaultServer.anthropicEvents(pieces).slice(0, 3 + pieces.length)
}

const openai: Provider = {
  name: "openai",
  model: (server) =>
    OpenAiLanguageModel.model("gpt-fault").pipe(
      Layer.provide(OpenAiClient.layer({ apiKey, apiUrl: `${server.url}/v1` })),
      Layer.provide(Http)
    ),
  stream: FaultServer.openAiResponsesStream,
  complete: FaultServer.openAiResponse,
  rateLimited: (headers) =>
    FaultServer.openAiError(429, "requests", "Rate limit reached", headers, "rate_limit_exceeded"),
  overloaded: FaultServer.openAiError(500, "server_error", "The server had an error"),
  unavailable: (headers) => FaultServer.openAiError(503, "server_error", "unavailable", headers),
  invalid: FaultServer.openAiError(400, "invalid_request_error", "bad request"),
  errorEvent: FaultServer.openAiResponsesErrorEvent("server_error", "The server had an error"),
  // response.created, response.in_progress, output_item.added, content_part.added, the deltas
  opening: (pieces) => FaultServer.openAiResponsesEvents(pieces).slice(0, 4 + pieces.length)
}

const exact = { baseDelay: "100 millis", jitter: false } as const

/** A server, and the provider's LanguageModel over it behind the retry layer (or without it). */
const setup = (provider: Provider, policy: Parameters<typeof RetryingLanguageModel.make>[1] = exact) =>
  Effect.gen(function*() {
    const server = yield* FaultServer.make()
    const plain = Context.get(yield* Layer.build(provider.model(server)), LanguageModel.LanguageModel)
    return { server, plain, model: RetryingLanguageModel.make(plain, policy) }
  })

const collect = (model: LanguageModel.Service) =>
  Effect.map(Stream.runCollect(model.streamText({ prompt: "hi" })), Chunk.toReadonlyArray)

const textOf = (parts: ReadonlyArray<Response.AnyPart>) =>
  parts.flatMap((p) => p.type === "text-delta" ? [p.delta] : []).join("")

const types = (parts: ReadonlyArray<Response.AnyPart>) => parts.map((p) => p.type)

const GetWeather = Tool.make("get_weather", { parameters: { city: Schema.String }, success: Schema.String })
const Tools = Toolkit.make(GetWeather)
const ToolsLive = Tools.toLayer({ get_weather: () => Effect.succeed("sunny") })

for (const provider of [anthropic, openai]) {
  describe(`over @effect/ai-${provider.name}`, () => {
    it.scoped("streamText: 429 (retry-after-ms) -> 5xx -> a 200 whose first event is an error -> the answer: 4 requests", () =>
      Effect.gen(function*() {
        const { model, server } = yield* setup(provider, { ...exact, maxAttempts: 4 })
        yield* server.enqueue(
          provider.rateLimited({ "retry-after-ms": "1500" }),
          provider.overloaded,
          FaultServer.stream([provider.errorEvent]),
          provider.stream(["Hello", " world"])
        )
        const fiber = yield* Effect.fork(collect(model))
        // each wait is exactly what it should be: the hint (above the first backoff, 100 ms), then 200 ms, 400 ms
        yield* advanceTo(1500)
        yield* server.awaitRequests(2)
        yield* advanceTo(1700)
        yield* server.awaitRequests(3)
        yield* advanceTo(2100)
        const parts = yield* Fiber.join(fiber)
        expect(yield* server.requests).toHaveLength(4)
        expect(textOf(parts)).toBe("Hello world")
        expect(types(parts)).toEqual([
          "response-metadata",
          "text-start",
          "text-delta",
          "text-delta",
          "text-end",
          "finish"
        ])
      }))

    it.scoped("@effect/ai alone: the same 429 is one request and the caller's error", () =>
      Effect.gen(function*() {
        const { plain, server } = yield* setup(provider)
        yield* server.enqueue(provider.rateLimited({ "retry-after-ms": "1500" }))
        const error = yield* Effect.flip(collect(plain))
        expect((error as AiError.HttpResponseError).response.status).toBe(429)
        expect(yield* server.requests).toHaveLength(1)
      }))

    it.scoped("streamText: text then an error event: 1 request, the text then the error part", () =>
      Effect.gen(function*() {
        const { model, server } = yield* setup(provider)
        yield* server.enqueue(textThenError(provider, ["one"]))
        const parts = yield* collect(model)
        expect(textOf(parts)).toBe("one")
        expect(types(parts).at(-1)).toBe("error")
        expect(yield* server.requests).toHaveLength(1)
      }))

    it.scoped("streamText: a connection dropped after the text is the caller's error, not a retry", () =>
      Effect.gen(function*() {
        const { model, server } = yield* setup(provider)
        yield* server.enqueue(textThenReset(provider, ["one"]))
        const exit = yield* Effect.exit(Stream.runCollect(model.streamText({ prompt: "hi" })))
        expect(Exit.isFailure(exit)).toBe(true)
        expect(yield* server.requests).toHaveLength(1)
      }))

    it.scoped("400 is 1 request and the HttpResponseError 400; 503 with x-should-retry: false is 1 request", () =>
      Effect.gen(function*() {
        for (const reply of [provider.invalid, provider.unavailable({ "x-should-retry": "false" })]) {
          const { model, server } = yield* setup(provider)
          yield* server.enqueue(reply)
          const error = yield* Effect.flip(collect(model))
          expect(error).toBeInstanceOf(AiError.HttpResponseError)
          expect((error as AiError.HttpResponseError).response.status).toBe(reply._tag === "Respond" ? reply.status : 0)
          expect(yield* server.requests).toHaveLength(1)
        }
      }))

    it.scoped("generateText: 429 -> the answer is 2 requests", () =>
      Effect.gen(function*() {
        const { model, server } = yield* setup(provider, { baseDelay: 0 })
        yield* server.enqueue(provider.rateLimited(), provider.complete(["o", "k"]))
        const response = yield* model.generateText({ prompt: "hi" })
        expect(response.text).toBe("ok")
        expect(yield* server.requests).toHaveLength(2)
      }))

    it.scoped("exhausted retries give back the original AiError", () =>
      Effect.gen(function*() {
        const { model, server } = yield* setup(provider, { baseDelay: 0, maxAttempts: 2 })
        yield* server.enqueue(provider.overloaded, provider.overloaded)
        const error = yield* Effect.flip(collect(model))
        expect(error).toBeInstanceOf(AiError.HttpResponseError)
        expect((error as AiError.HttpResponseError).response.status).toBe(provider === anthropic ? 529 : 500)
        expect(yield* server.requests).toHaveLength(2)
      }))

    it.scoped("a tool-use stream after a 429 reaches the caller with its tool call once", () =>
      Effect.gen(function*() {
        const { model, server } = yield* setup(provider, { baseDelay: 0 })
        yield* server.enqueue(
          provider.rateLimited(),
          provider.stream(["Checking."], {
            toolCalls: [{ id: "call_1", name: "get_weather", input: { city: "Paris" } }]
          })
        )
        const parts = Chunk.toReadonlyArray(
          yield* Stream.runCollect(
            model.streamText({ prompt: "weather?", toolkit: Tools, disableToolCallResolution: true })
          ).pipe(Effect.provide(ToolsLive))
        )
        const calls = parts.filter((p) => p.type === "tool-call")
        expect(calls).toHaveLength(1)
        expect(calls[0]).toMatchObject({ name: "get_weather", params: { city: "Paris" } })
        expect(textOf(parts)).toBe("Checking.")
        expect(yield* server.requests).toHaveLength(2)
      }))

    it.scoped("interruption during a wait makes no further request", () =>
      Effect.gen(function*() {
        const { model, server } = yield* setup(provider)
        yield* server.enqueue(provider.rateLimited({ "retry-after": "30" }), provider.stream(["late"]))
        const fiber = yield* Effect.fork(collect(model))
        yield* awaitSleep(30_000)
        yield* Fiber.interrupt(fiber)
        yield* TestClock.adjust("1 hour")
        expect(yield* server.requests).toHaveLength(1)
        expect(yield* server.inFlight).toBe(0)
      }))
  })
}

describe("1,000 mixed calls", () => {
  it.scoped(
    "leave no open socket and no live fiber (answers, hints, 5xx, in-band errors, abandoned streams)",
    () =>
      Effect.gen(function*() {
        const server = yield* FaultServer.make({
          handler: (request, index) => {
            const streaming = (request.json as { stream?: boolean } | undefined)?.stream === true
            switch (index % 7) {
              case 0:
                return anthropic.rateLimited({ "retry-after-ms": "1" })
              case 1:
                return anthropic.overloaded
              case 2:
                return streaming ? FaultServer.stream([anthropic.errorEvent]) : anthropic.complete(["ok"])
              case 3:
                return streaming ? textThenError(anthropic, ["partial"]) : anthropic.complete(["ok"])
              default:
                return streaming ? anthropic.stream(["a", "b", "c"]) : anthropic.complete(["ok"])
            }
          }
        })
        const supervisor = yield* Supervisor.track
        const calls = 1_000
        yield* Effect.gen(function*() {
          const model = RetryingLanguageModel.make(
            Context.get(yield* Layer.build(anthropic.model(server)), LanguageModel.LanguageModel),
            { baseDelay: "1 millis", maxDelay: "5 millis", maxAttempts: 6 }
          )
          const call = (i: number): Effect.Effect<Exit.Exit<unknown, AiError.AiError>> => {
            switch (i % 3) {
              case 0:
                return Effect.exit(model.generateText({ prompt: "hi" }))
              case 1:
                return Effect.exit(collect(model))
              default:
                // abandoned after its first part: the request is closed, not read to the end
                return Effect.exit(Stream.runDrain(Stream.take(model.streamText({ prompt: "hi" }), 1)))
            }
          }
          const exits = yield* Effect.forEach(Array.from({ length: calls }, (_, i) => i), call, { concurrency: 50 })
          // every call ends as the caller's answer or as an AiError, never a defect
          for (const exit of exits) {
            if (Exit.isFailure(exit)) expect(AiError.isAiError(Chunk.unsafeHead(Cause.failures(exit.cause)))).toBe(true)
          }
          expect(exits.filter(Exit.isSuccess).length).toBeGreaterThan(calls * 0.95)
        }).pipe(Effect.scoped, Effect.supervised(supervisor), TestServices.provideLive)
        expect(yield* server.inFlight).toBe(0)
        const { opened } = yield* server.connections
        yield* server.awaitClosed(opened)
        expect((yield* supervisor.value).filter((fiber) => fiber.unsafePoll() === null)).toEqual([])
      }),
    60_000
  )
})

describe("ExecutionPlan: Anthropic, then OpenAI, with the retry layer inside each step", () => {
  // An error part that outlasts the retries fails the stream, so that the plan sees it and falls back.
  const retrying = RetryingLanguageModel.layer({ maxAttempts: 2, baseDelay: 0 }, { errorPartBeforeContent: "fail" })
  const plan = (first: FaultServer.Server, second: FaultServer.Server) =>
    ExecutionPlan.make(
      { provide: retrying.pipe(Layer.provide(anthropic.model(first))) },
      { provide: retrying.pipe(Layer.provide(openai.model(second))) }
    )

  it.scoped("retries within Anthropic first, then falls back to OpenAI before the first content part", () =>
    Effect.gen(function*() {
      const [first, second] = [yield* FaultServer.make(), yield* FaultServer.make()]
      yield* first.enqueue(anthropic.overloaded, FaultServer.stream([anthropic.errorEvent]))
      yield* second.enqueue(openai.stream(["from ", "OpenAI"]))
      const parts = Chunk.toReadonlyArray(
        yield* LanguageModel.streamText({ prompt: "hi" }).pipe(
          Stream.withExecutionPlan(plan(first, second), { preventFallbackOnPartialStream: true }),
          Stream.runCollect
        )
      )
      expect(textOf(parts)).toBe("from OpenAI")
      expect(types(parts).filter((t) => t === "response-metadata")).toHaveLength(1)
      expect(yield* first.requests).toHaveLength(2)
      expect(yield* second.requests).toHaveLength(1)
    }))

  it.scoped("after the first content part there is no fallback: the caller never sees a part twice", () =>
    Effect.gen(function*() {
      const [first, second] = [yield* FaultServer.make(), yield* FaultServer.make()]
      yield* first.enqueue(textThenReset(anthropic, ["half an answer"]))
      yield* second.enqueue(openai.stream(["another answer"]))
      const seen: Array<string> = []
      const exit = yield* LanguageModel.streamText({ prompt: "hi" }).pipe(
        Stream.withExecutionPlan(plan(first, second), { preventFallbackOnPartialStream: true }),
        Stream.runForEach((part) => Effect.sync(() => part.type === "text-delta" && seen.push(part.delta))),
        Effect.exit
      )
      expect(Exit.isFailure(exit)).toBe(true)
      expect(seen).toEqual(["half an answer"])
      expect(yield* second.requests).toHaveLength(0)
    }))

  it.scoped("generateText falls back the same way", () =>
    Effect.gen(function*() {
      const [first, second] = [yield* FaultServer.make(), yield* FaultServer.make()]
      yield* first.enqueue(anthropic.overloaded, anthropic.overloaded)
      yield* second.enqueue(openai.complete(["fallback"]))
      const response = yield* LanguageModel.generateText({ prompt: "hi" }).pipe(
        Effect.withExecutionPlan(plan(first, second))
      )
      expect(response.text).toBe("fallback")
      expect(yield* first.requests).toHaveLength(2)
    }))
})

describe("ResilientLanguageModel over a real provider", () => {
  it.scoped("429 then 529 then the answer, through the limiter and the breaker: 3 requests", () =>
    Effect.gen(function*() {
      const server = yield* FaultServer.make()
      yield* server.enqueue(
        anthropic.rateLimited({ "retry-after-ms": "10" }),
        anthropic.overloaded,
        anthropic.stream(["steady"])
      )
      const parts = Chunk.toReadonlyArray(
        yield* Stream.runCollect(LanguageModel.streamText({ prompt: "hi" })).pipe(
          Effect.provide(
            ResilientLanguageModel.layer({ retry: { baseDelay: "1 millis" } }).pipe(
              Layer.provide(anthropic.model(server)),
              Layer.provide(FleetStore.layerMemory)
            )
          ),
          TestServices.provideLive
        )
      )
      expect(textOf(parts)).toBe("steady")
      expect(yield* server.requests).toHaveLength(3)
    }))
})

describe("RetryingLanguageModel.transformClient, below @effect/ai", () => {
  it.scoped("retries a 429 after its hint, but cannot see an error event in a stream that opened with 200", () =>
    Effect.gen(function*() {
      const server = yield* FaultServer.make()
      yield* server.enqueue(
        anthropic.rateLimited({ "retry-after-ms": "10" }),
        anthropic.stream(["first"]),
        FaultServer.stream([anthropic.errorEvent])
      )
      const model = Context.get(
        yield* Layer.build(
          AnthropicLanguageModel.model("claude-fault").pipe(
            Layer.provide(AnthropicClient.layer({
              apiKey,
              apiUrl: server.url,
              transformClient: RetryingLanguageModel.transformClient({ baseDelay: "1 millis" })
            })),
            Layer.provide(Http)
          )
        ),
        LanguageModel.LanguageModel
      )
      expect(textOf(yield* collect(model))).toBe("first")
      expect(yield* server.requests).toHaveLength(2)
      expect(types(yield* collect(model))).toEqual(["error"])
      expect(yield* server.requests).toHaveLength(3)
    }).pipe(TestServices.provideLive))
})
