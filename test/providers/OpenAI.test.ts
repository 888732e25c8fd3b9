import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { CompletionModel, type InvalidOptions, Retryable, RetryingModel, type RetrySchedule } from "effect-retry-layer"
import { OpenAI } from "effect-retry-layer/openai"
import { FaultServer } from "effect-retry-layer/testing/server"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Chat from "../support/chat.js"
import { adapterFailure } from "../support/thrown.js"
import { capturingTracer } from "../support/tracing.js"
import { advanceTo, recordingCalls } from "../support/virtualTime.js"

const apiKey = "sk-proj-test-SECRET-77ab"
const request: CompletionModel.ChatRequest = {
  messages: [{ role: "user", content: "Hi" }],
  system: "Be brief.",
  maxTokens: 64,
  stopSequences: ["\n\n"]
}
const exact: RetrySchedule.RetryPolicy.Input = { baseDelay: "10 millis", maxDelay: "100 millis", jitter: false }

const { failure, texts } = Chat
const consume = (model: CompletionModel.Service) => Chat.consume(model, request)

const openAi = (policy: RetrySchedule.RetryPolicy.Input = exact) =>
  Effect.gen(function*() {
    const server = yield* FaultServer.make()
    const adapter = yield* OpenAI.make({
      apiKey: Redacted.make(apiKey),
      model: "gpt-test",
      baseUrl: `${server.url}/v1`,
      organization: "org-1"
    })
    const { service, times } = recordingCalls(adapter)
    return { server, model: RetryingModel.make(service, policy), times }
  })

const azure = Effect.gen(function*() {
  const server = yield* FaultServer.make()
  const adapter = yield* OpenAI.makeAzure({
    apiKey: Redacted.make(apiKey),
    endpoint: server.url,
    deployment: "my deployment",
    apiVersion: "2024-10-21"
  })
  return { server, model: RetryingModel.make(adapter, exact) }
})

const withHttp = Effect.provide(NodeHttpClient.layerUndici)

describe("OpenAI over loopback HTTP", () => {
  it.scoped("sends a Chat Completions request and maps the stream, usage included", () =>
    Effect.gen(function*() {
      const { model, server } = yield* openAi()
      yield* server.enqueue(FaultServer.openAiStream(["Hello", ", world"], { inputTokens: 9, outputTokens: 4 }))
      const { chunks, exit } = yield* consume(model)
      expect(exit).toStrictEqual(Exit.void)
      expect(chunks).toStrictEqual([
        CompletionModel.StreamChunk.TextDelta({ text: "Hello" }),
        CompletionModel.StreamChunk.TextDelta({ text: ", world" }),
        CompletionModel.StreamChunk.TurnFinished({
          reason: "stop",
          usage: { inputTokens: 9, outputTokens: 4 },
          stopReason: "stop"
        })
      ])
      const [sent] = yield* server.requests
      expect(sent?.url).toBe("/v1/chat/completions")
      expect(sent?.headers.authorization).toBe(`Bearer ${apiKey}`)
      expect(sent?.headers["openai-organization"]).toBe("org-1")
      expect(sent?.json).toStrictEqual({
        model: "gpt-test",
        messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }],
        max_completion_tokens: 64,
        stop: ["\n\n"],
        stream: true,
        stream_options: { include_usage: true }
      })
    }).pipe(withHttp))

  it.scoped("maps finish reasons", () =>
    Effect.gen(function*() {
      const { model, server } = yield* openAi()
      yield* server.enqueue(FaultServer.openAiStream(["a"], { stopReason: "length" }))
      expect((yield* consume(model)).chunks.at(-1)).toMatchObject({ _tag: "TurnFinished", reason: "max_tokens" })
    }).pipe(withHttp))

  it.scoped("429 with retry-after-ms waits exactly that long in virtual time", () =>
    Effect.gen(function*() {
      const { model, server, times } = yield* openAi()
      yield* server.enqueue(
        FaultServer.openAiError(
          429,
          "requests",
          "Rate limit reached",
          { "retry-after-ms": "750" },
          "rate_limit_exceeded"
        ),
        FaultServer.openAiStream(["ok"])
      )
      const fiber = yield* Effect.fork(consume(model))
      yield* advanceTo(750)
      expect((yield* Fiber.join(fiber)).exit).toStrictEqual(Exit.void)
      expect(times).toEqual([0, 750])
    }).pipe(withHttp))

  it.scoped("429 insufficient_quota is a QuotaExceededError and is not retried", () =>
    Effect.gen(function*() {
      const { model, server } = yield* openAi()
      yield* server.enqueue(
        FaultServer.openAiError(429, "insufficient_quota", "You exceeded your current quota", {}, "insufficient_quota")
      )
      const error = failure((yield* consume(model)).exit)
      expect(error?._tag).toBe("QuotaExceededError")
      expect(Retryable.isTransient(error)).toBe(false)
      expect(yield* server.requests).toHaveLength(1)
    }).pipe(withHttp))

  it.scoped("a mid-stream error object is a typed error after the chunks; no second request", () =>
    Effect.gen(function*() {
      const { model, server } = yield* openAi()
      yield* server.enqueue(FaultServer.openAiStream(["Hel"], {
        interrupt: [FaultServer.openAiErrorEvent("server_error", "The server had an error")]
      }))
      const { chunks, exit } = yield* consume(model)
      expect(texts(chunks)).toEqual(["Hel"])
      expect(failure(exit)?._tag).toBe("ServerError")
      expect(failure(exit)?.message).toBe("openai sent an error mid-stream (server_error): The server had an error")
      expect(yield* server.requests).toHaveLength(1)
    }).pipe(withHttp))

  it.scoped("a stream that ends without [DONE] is a StreamError", () =>
    Effect.gen(function*() {
      const { model, server } = yield* openAi()
      yield* server.enqueue(FaultServer.stream(FaultServer.openAiEvents(["cut"]).slice(0, 2)))
      const { chunks, exit } = yield* consume(model)
      expect(texts(chunks)).toEqual(["cut"])
      expect(failure(exit)?.message).toBe("openai: the stream ended before the turn finished")
    }).pipe(withHttp))

  it.scoped("malformed chunk JSON is a StreamError", () =>
    Effect.gen(function*() {
      const { model, server } = yield* openAi()
      yield* server.enqueue(FaultServer.stream([FaultServer.raw("data: {\"choices\": [\n\n")]))
      expect(failure((yield* consume(model)).exit)?._tag).toBe("StreamError")
    }).pipe(withHttp))

  it.scoped("a connection refused is a ConnectionError, retried until maxAttempts", () =>
    Effect.gen(function*() {
      // a port nothing listens on: bind one, note it, close it
      const port = yield* Effect.scoped(Effect.map(FaultServer.make(), (s) => new URL(s.url).port))
      const adapter = yield* OpenAI.make({
        apiKey: Redacted.make(apiKey),
        model: "m",
        baseUrl: `http://127.0.0.1:${port}/v1`
      })
      const { service, times } = recordingCalls(adapter)
      const fiber = yield* Effect.fork(consume(RetryingModel.make(service, { ...exact, maxAttempts: 2 })))
      yield* advanceTo(10)
      const error = failure((yield* Fiber.join(fiber)).exit)
      expect(error?._tag).toBe("ConnectionError")
      expect(error?.message).toMatch(/^openai: connection failed \(ECONNREFUSED/)
      expect(times).toEqual([0, 10])
    }).pipe(withHttp))
})

describe("Azure OpenAI over loopback HTTP", () => {
  it.scoped("calls the deployment URL with api-version and the api-key header", () =>
    Effect.gen(function*() {
      const { model, server } = yield* azure
      yield* server.enqueue(FaultServer.openAiStream(["hi"]))
      expect((yield* consume(model)).exit).toStrictEqual(Exit.void)
      const [sent] = yield* server.requests
      expect(sent?.url).toBe("/openai/deployments/my%20deployment/chat/completions?api-version=2024-10-21")
      expect(sent?.headers["api-key"]).toBe(apiKey)
      expect(sent?.headers.authorization).toBeUndefined()
      expect(model.model).toBe("my deployment")
    }).pipe(withHttp))

  it.scoped("Azure's apim-request-id is the request id", () =>
    Effect.gen(function*() {
      const { model, server } = yield* azure
      yield* server.enqueue(
        FaultServer.openAiError(400, "invalid_request_error", "bad", { "apim-request-id": "apim-1", "request-id": "" })
      )
      expect(failure((yield* consume(model)).exit)?.requestId).toBe("apim-1")
    }).pipe(withHttp))

  it.scoped("the api-key header is redacted in spans (it is not one of the platform's defaults)", () =>
    Effect.gen(function*() {
      const { model, server } = yield* azure
      const { spans, tracer } = yield* capturingTracer
      yield* server.enqueue(FaultServer.openAiStream(["hi"]))
      yield* consume(model).pipe(Effect.withTracer(tracer))
      const attributes = spans.flatMap((
        span
      ) => [...(span as unknown as { attributes: Map<string, unknown> }).attributes])
      const header = attributes.find(([name]) => name === "http.request.header.api-key")
      expect(header).toBeDefined()
      expect(JSON.stringify(attributes)).not.toContain(apiKey)
    }).pipe(withHttp))

  it("an endpoint that is not absolute http(s) fails the layer when built, naming the endpoint", async () => {
    const refused = await adapterFailure(
      OpenAI.layerAzure({ apiKey: Redacted.make("k"), endpoint: "my-resource", deployment: "d" })
    )
    expect(String(refused)).toContain("Azure OpenAI: the base URL must be an absolute http(s) URL")
    expect((refused as InvalidOptions).issues.map((issue) => issue.path)).toEqual([["endpoint"]])
  })
})

describe("OpenAI's requests, the whole wire", () => {
  it.scoped("a request with tools, tool calls and tool results is sent as Chat Completions documents it", () =>
    Effect.gen(function*() {
      const { model, server } = yield* openAi()
      yield* server.enqueue(FaultServer.openAiStream(["done"]))
      // OpenAI has no thinking blocks: the same turn without them
      const [question, answer, results] = Chat.toolTurn.messages
      const withoutThinking: CompletionModel.ChatRequest = {
        ...Chat.toolTurn,
        toolChoice: { tool: "get_weather" },
        messages: [question!, {
          role: "assistant",
          content: [
            { type: "text", text: "Checking." },
            ...(answer!.content as ReadonlyArray<CompletionModel.ContentBlock>)
              .filter((block) => block.type === "tool_use")
          ]
        }, results!]
      }
      yield* Chat.consume(model, withoutThinking)
      const [sent] = yield* server.requests
      expect(sent?.json).toMatchObject({
        tools: [{
          type: "function",
          function: { name: "get_weather", description: "Weather now", parameters: Chat.weatherSchema }
        }],
        tool_choice: { type: "function", function: { name: "get_weather" } },
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "Weather in SF?" },
              { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } }
            ]
          },
          {
            role: "assistant",
            content: "Checking.",
            tool_calls: [{
              id: "toolu_01",
              type: "function",
              function: { name: "get_weather", arguments: "{\"location\":\"SF\"}" }
            }]
          },
          { role: "tool", tool_call_id: "toolu_01", content: "18 C, fog" }
        ]
      })
    }).pipe(withHttp))

  it.scoped("what Chat Completions cannot express is an InvalidRequestError before anything is sent", () =>
    Effect.gen(function*() {
      const { model, server } = yield* openAi()
      const error = failure((yield* Chat.consume(model, Chat.toolTurn)).exit)
      expect(error?._tag).toBe("InvalidRequestError")
      expect(error?.message).toBe(
        "openai cannot take a thinking block (Chat Completions has no place for it); nothing was sent"
      )
      expect(yield* server.requests).toHaveLength(0)
    }).pipe(withHttp))
})

describe("rate-limit headers", () => {
  it.scoped("a response's x-ratelimit headers reach the caller on TurnFinished, and on a 429's error", () =>
    Effect.gen(function*() {
      const { model, server } = yield* openAi({ maxAttempts: 1 })
      const headers = {
        "x-ratelimit-limit-requests": "60",
        "x-ratelimit-remaining-requests": "59",
        "x-ratelimit-reset-requests": "1s",
        "x-ratelimit-limit-tokens": "150000",
        "x-ratelimit-remaining-tokens": "bogus",
        "x-ratelimit-reset-tokens": "6m0s"
      }
      yield* server.enqueue(
        FaultServer.openAiStream(["ok"], { headers }),
        FaultServer.openAiError(429, "requests", "Rate limit reached", {
          ...headers,
          "x-ratelimit-remaining-requests": "0"
        })
      )
      const { chunks } = yield* consume(model)
      expect(chunks.at(-1)).toMatchObject({
        _tag: "TurnFinished",
        rateLimit: {
          requests: { limit: 60, remaining: 59, resetAt: 1000 },
          tokens: { limit: 150_000, resetAt: 360_000 }
        }
      })
      const error = failure((yield* consume(model)).exit)
      expect(error?.rateLimit?.requests).toEqual({ limit: 60, remaining: 0, resetAt: 1000 })
    }).pipe(withHttp))
})
