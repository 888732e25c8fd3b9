import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { CompletionModel, InvalidOptions, RetryingModel, type RetrySchedule } from "effect-retry-layer"
import { Anthropic } from "effect-retry-layer/anthropic"
import { FaultServer } from "effect-retry-layer/testing/server"
import * as Chunk from "effect/Chunk"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import * as Supervisor from "effect/Supervisor"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as Chat from "../support/chat.js"
import { adapterFailure } from "../support/thrown.js"
import { capturingTracer } from "../support/tracing.js"
import { advanceTo, recordingCalls } from "../support/virtualTime.js"

const apiKey = "sk-ant-test-SECRET-4f1c9a"
const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "Hi" }], system: "Be brief." }
const exact: RetrySchedule.RetryPolicy.Input = { baseDelay: "10 millis", maxDelay: "100 millis", jitter: false }

/** A loopback server and the Anthropic adapter pointed at it, behind the retry layer. */
const setup = (policy: RetrySchedule.RetryPolicy.Input = exact, options: Partial<Anthropic.Options> = {}) =>
  Effect.gen(function*() {
    const server = yield* FaultServer.make()
    const adapter = yield* Anthropic.make({
      apiKey: Redacted.make(apiKey),
      model: "claude-test",
      baseUrl: server.url,
      ...options
    })
    const { service, times } = recordingCalls(adapter)
    return { server, model: RetryingModel.make(service, policy), times }
  })

const { failure, texts } = Chat
const consume = (model: CompletionModel.Service) => Chat.consume(model, request)

/** One scripted failure, then an answer: the retry comes exactly `millis` later in virtual time. */
const retriedAfter = (first: FaultServer.Reply, millis: number) =>
  Effect.gen(function*() {
    const { model, server, times } = yield* setup()
    yield* server.enqueue(first, FaultServer.anthropicStream(["ok"]))
    const fiber = yield* Effect.fork(consume(model))
    yield* advanceTo(millis)
    const { chunks, exit } = yield* Fiber.join(fiber)
    expect(exit).toStrictEqual(Exit.void)
    expect(texts(chunks)).toEqual(["ok"])
    expect(times).toEqual([0, millis])
    expect(yield* server.requests).toHaveLength(2)
  })

const withHttp = Effect.provide(NodeHttpClient.layerUndici)

describe("Anthropic over loopback HTTP", () => {
  it.scoped("sends a Messages request and maps the stream to chunks", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup()
      yield* server.enqueue(FaultServer.anthropicStream(["Hello", ", world"], { inputTokens: 12, outputTokens: 3 }))
      const { chunks, exit } = yield* consume(model)
      expect(exit).toStrictEqual(Exit.void)
      expect(chunks).toStrictEqual([
        CompletionModel.StreamChunk.TextDelta({ text: "Hello" }),
        CompletionModel.StreamChunk.TextDelta({ text: ", world" }),
        CompletionModel.StreamChunk.TurnFinished({
          reason: "stop",
          usage: { inputTokens: 12, outputTokens: 3 },
          stopReason: "end_turn"
        })
      ])
      const [sent] = yield* server.requests
      expect(sent?.method).toBe("POST")
      expect(sent?.url).toBe("/v1/messages")
      expect(sent?.headers["x-api-key"]).toBe(apiKey)
      expect(sent?.headers["anthropic-version"]).toBe("2023-06-01")
      expect(sent?.json).toStrictEqual({
        model: "claude-test",
        max_tokens: 4096,
        messages: [{ role: "user", content: "Hi" }],
        system: "Be brief.",
        stream: true
      })
      expect([model.name, model.model]).toEqual(["anthropic", "claude-test"])
    }).pipe(withHttp))

  it.scoped("maps stop reasons", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup()
      yield* server.enqueue(FaultServer.anthropicStream(["a"], { stopReason: "max_tokens" }))
      const { chunks } = yield* consume(model)
      expect(chunks.at(-1)).toMatchObject({ _tag: "TurnFinished", reason: "max_tokens" })
    }).pipe(withHttp))

  it.scoped("429 with retry-after: 1 -> the second request comes 1 s later in virtual time, then succeeds", () =>
    retriedAfter(FaultServer.anthropicError(429, "rate_limit_error", "Rate limited", { "retry-after": "1" }), 1000)
      .pipe(withHttp))

  it.scoped("429 with retry-after-ms: 250 -> the second request comes 250 ms later", () =>
    retriedAfter(FaultServer.anthropicError(429, "rate_limit_error", "Rate limited", { "retry-after-ms": "250" }), 250)
      .pipe(withHttp))

  it.scoped("529 overloaded is retried", () =>
    retriedAfter(FaultServer.anthropicError(529, "overloaded_error", "Overloaded"), 10).pipe(withHttp))

  it.scoped("401 -> one request, an AuthenticationError, and the key is not in the message", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup()
      yield* server.enqueue(FaultServer.anthropicError(401, "authentication_error", "invalid x-api-key"))
      const { exit } = yield* consume(model)
      const error = failure(exit)
      expect(error?._tag).toBe("AuthenticationError")
      expect(error?.status).toBe(401)
      expect(error?.errorType).toBe("authentication_error")
      expect(error?.requestId).toBe("req_fault_1")
      expect(error?.message).toBe("anthropic responded 401 authentication_error: invalid x-api-key")
      expect(JSON.stringify(error)).not.toContain(apiKey)
      expect(String(error)).not.toContain(apiKey)
      expect(yield* server.requests).toHaveLength(1)
    }).pipe(withHttp))

  it.scoped("x-should-retry: false on a 503 is not retried", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup()
      yield* server.enqueue(FaultServer.anthropicError(503, "api_error", "down", { "x-should-retry": "false" }))
      const { exit } = yield* consume(model)
      expect(failure(exit)?._tag).toBe("ServerError")
      expect(yield* server.requests).toHaveLength(1)
    }).pipe(withHttp))

  it.scoped("x-should-retry: true on a 400 is retried", () =>
    retriedAfter(
      FaultServer.anthropicError(400, "invalid_request_error", "try again", { "x-should-retry": "true" }),
      10
    ).pipe(withHttp))

  it.scoped("a connection reset before headers is retried", () => retriedAfter(FaultServer.reset, 10).pipe(withHttp))

  it.scoped("a connection reset after the stream started reaches the caller after the chunks; one request", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup()
      yield* server.enqueue(FaultServer.anthropicStream(["Hel", "lo"], { interrupt: [FaultServer.resetStream] }))
      const { chunks, exit } = yield* consume(model)
      expect(texts(chunks)).toEqual(["Hel", "lo"])
      const error = failure(exit)
      expect(error?._tag).toBe("ConnectionError")
      expect(error?.requestId).toBe("req_fault_1")
      expect(yield* server.requests).toHaveLength(1)
    }).pipe(withHttp))

  it.scoped("a mid-stream overloaded_error event is a typed error after the chunks; no second request", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup()
      yield* server.enqueue(FaultServer.anthropicStream(["Hel"], {
        interrupt: [FaultServer.anthropicErrorEvent("overloaded_error", "Overloaded")]
      }))
      const { chunks, exit } = yield* consume(model)
      expect(texts(chunks)).toEqual(["Hel"])
      const error = failure(exit)
      expect(error?._tag).toBe("OverloadedError")
      expect(error?.errorType).toBe("overloaded_error")
      expect(error?.message).toBe("anthropic sent an error mid-stream (overloaded_error): Overloaded")
      expect(yield* server.requests).toHaveLength(1)
    }).pipe(withHttp))

  describe("an overloaded_error as the stream's first event", () => {
    const overloadedAtOnce = FaultServer.stream([
      ...FaultServer.anthropicEvents([]).slice(0, 3), // message_start, content_block_start, ping
      FaultServer.anthropicErrorEvent("overloaded_error", "Overloaded")
    ])

    it.scoped("is retried with commitOn: \"first-chunk\"", () =>
      Effect.gen(function*() {
        const { model, server, times } = yield* setup({ ...exact, commitOn: "first-chunk" })
        yield* server.enqueue(overloadedAtOnce, FaultServer.anthropicStream(["ok"]))
        const fiber = yield* Effect.fork(consume(model))
        yield* advanceTo(10)
        const { chunks, exit } = yield* Fiber.join(fiber)
        expect(exit).toStrictEqual(Exit.void)
        expect(texts(chunks)).toEqual(["ok"])
        expect(times).toEqual([0, 10])
      }).pipe(withHttp))

    it.scoped("reaches the caller after one request by default, as with the official SDK", () =>
      Effect.gen(function*() {
        const { model, server } = yield* setup()
        yield* server.enqueue(overloadedAtOnce, FaultServer.anthropicStream(["ok"]))
        expect(failure((yield* consume(model)).exit)?._tag).toBe("OverloadedError")
        expect(yield* server.requests).toHaveLength(1)
      }).pipe(withHttp))

    it.scoped("with commitOn: \"first-chunk\", abandoning the stream still closes the connection", () =>
      Effect.gen(function*() {
        const { model, server } = yield* setup({ ...exact, commitOn: "first-chunk" })
        yield* server.enqueue(FaultServer.anthropicStream(["one", "two"], { interrupt: [FaultServer.stallStream] }))
        const stream = yield* model.chatStream(request)
        yield* Stream.runDrain(Stream.take(stream, 1))
        yield* server.awaitClosed(1)
      }).pipe(withHttp))
  })

  it.scoped("a stream that ends before message_stop is a StreamError, not a short answer", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup()
      const events = FaultServer.anthropicEvents(["cut"]).slice(0, 4)
      yield* server.enqueue(FaultServer.stream(events))
      const { chunks, exit } = yield* consume(model)
      expect(texts(chunks)).toEqual(["cut"])
      expect(failure(exit)?._tag).toBe("StreamError")
      expect(failure(exit)?.message).toBe("anthropic: the stream ended before the turn finished")
    }).pipe(withHttp))

  it.scoped("malformed event JSON is a StreamError that names the event", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup()
      yield* server.enqueue(FaultServer.stream([
        FaultServer.event({ type: "message_start", message: { usage: { input_tokens: 1 } } }, "message_start"),
        FaultServer.raw("event: content_block_delta\ndata: {\"delta\": {\"type\": \"text_delta\", \"text\": \n\n")
      ]))
      const { exit } = yield* consume(model)
      expect(failure(exit)?._tag).toBe("StreamError")
      expect(failure(exit)?.message).toMatch(/^anthropic: malformed content_block_delta event/)
    }).pipe(withHttp))

  it.scoped("an event of the wrong shape is a StreamError", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup()
      yield* server.enqueue(FaultServer.stream([
        FaultServer.event({ type: "content_block_delta", delta: "nope" }, "content_block_delta")
      ]))
      expect(failure((yield* consume(model)).exit)?._tag).toBe("StreamError")
    }).pipe(withHttp))

  it.scoped("an SSE line or event over 1 Mi characters is a StreamError, not a crash", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup()
      // one line that never ends, and an event of many small lines
      yield* server.enqueue(
        FaultServer.stream([FaultServer.raw(`data: ${"x".repeat(11 * 1024 * 1024)}`)]),
        FaultServer.stream([
          FaultServer.raw(`${"data: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n".repeat(30_000)}\n`)
        ])
      )
      for (const what of ["a line", "an event"]) {
        const { exit } = yield* consume(model)
        expect(failure(exit)?._tag).toBe("StreamError")
        expect(failure(exit)?.message).toBe(`anthropic: ${what} is over 1048576 characters; the stream is refused`)
      }
    }).pipe(withHttp))

  it.scoped("a malformed JSON error body still gives a typed error by status", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup({ ...exact, maxAttempts: 1 })
      yield* server.enqueue(
        FaultServer.respond(502, "<html>Bad Gateway</html>", { headers: { "content-type": "text/html" } })
      )
      const error = failure((yield* consume(model)).exit)
      expect(error?._tag).toBe("ServerError")
      expect(error?.message).toBe("anthropic responded 502: <html>Bad Gateway</html>")
    }).pipe(withHttp))

  it.scoped("a 200 that is not an event stream is a StreamError", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup()
      yield* server.enqueue(FaultServer.json(200, { id: "msg", content: [] }))
      const error = failure((yield* consume(model)).exit)
      expect(error?._tag).toBe("StreamError")
      expect(error?.message).toContain("application/json, not an event stream")
    }).pipe(withHttp))

  it.scoped("a stall before headers past the timeout is a TimeoutError and is retried", () =>
    Effect.gen(function*() {
      const { model, server, times } = yield* setup(exact, { timeout: "5 seconds" })
      yield* server.enqueue(FaultServer.stall, FaultServer.anthropicStream(["ok"]))
      const fiber = yield* Effect.fork(consume(model))
      yield* advanceTo(5000) // the first attempt times out
      yield* advanceTo(5010) // the backoff
      expect((yield* Fiber.join(fiber)).exit).toStrictEqual(Exit.void)
      expect(times).toEqual([0, 5010])
      yield* server.awaitClosed(1) // the stalled connection was given up, not leaked
    }).pipe(withHttp))

  it.scoped("a stall mid-stream past the idle timeout is a TimeoutError for the caller; no retry", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup(exact, { idleTimeout: "30 seconds" })
      yield* server.enqueue(FaultServer.anthropicStream(["Hel"], { interrupt: [FaultServer.stallStream] }))
      const fiber = yield* Effect.fork(consume(model))
      yield* server.awaitRequests(1)
      yield* advanceTo(30_000)
      const { chunks, exit } = yield* Fiber.join(fiber)
      expect(texts(chunks)).toEqual(["Hel"])
      expect(failure(exit)?._tag).toBe("TimeoutError")
      expect(yield* server.requests).toHaveLength(1)
      yield* server.awaitClosed(1)
    }).pipe(withHttp))

  it.scoped("abandoning a stream early (take 1) closes the HTTP connection", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup()
      yield* server.enqueue(FaultServer.anthropicStream(["one", "two"], { interrupt: [FaultServer.stallStream] }))
      const stream = yield* model.chatStream(request)
      const first = yield* Stream.runCollect(Stream.take(Stream.filter(stream, (c) => c._tag === "TextDelta"), 1))
      expect(texts(Chunk.toReadonlyArray(first))).toEqual(["one"])
      yield* server.awaitClosed(1)
      expect(yield* server.inFlight).toBe(0)
    }).pipe(withHttp))

  it.scoped(
    "no fiber or socket leaks after 1,000 requests (whole, abandoned and failed)",
    () =>
      Effect.gen(function*() {
        const { model, server } = yield* setup({ ...exact, maxAttempts: 1 })
        const supervisor = yield* Supervisor.track
        const rounds = 1_000
        for (let i = 0; i < rounds; i++) {
          switch (i % 3) {
            case 0:
              yield* server.enqueue(FaultServer.anthropicStream(["a", "b"]))
              break
            case 1:
              yield* server.enqueue(FaultServer.anthropicStream(["a", "b"], { interrupt: [FaultServer.stallStream] }))
              break
            case 2:
              yield* server.enqueue(FaultServer.anthropicError(500, "api_error", "boom"))
          }
        }
        const oneRound = (i: number) =>
          i % 3 === 1
            ? Effect.flatMap(model.chatStream(request), (stream) => Stream.runDrain(Stream.take(stream, 1)))
            : Effect.exit(consume(model))
        yield* Effect.forEach(Array.from({ length: rounds }, (_, i) => i), oneRound, { discard: true }).pipe(
          Effect.supervised(supervisor)
        )
        expect(yield* server.requests).toHaveLength(rounds)
        expect(yield* server.inFlight).toBe(0)
        // every abandoned stream closed its socket; what stays open is the client's keep-alive pool
        const abandoned = Math.floor(rounds / 3)
        yield* server.awaitClosed(abandoned)
        const { closed, opened } = yield* server.connections
        expect(opened - closed).toBeLessThanOrEqual(2)
        expect((yield* supervisor.value).filter((fiber) => fiber.unsafePoll() === null)).toEqual([])
      }).pipe(withHttp),
    60_000
  )

  it.scoped("the API key never appears in logs, errors or spans", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup({ ...exact, maxAttempts: 2 })
      const { spans, tracer } = yield* capturingTracer
      const logs: Array<string> = []
      const logger = Logger.make(({ annotations, message }) =>
        logs.push(JSON.stringify({ message, annotations: Object.fromEntries(annotations) }, replacer))
      )
      yield* server.enqueue(
        FaultServer.anthropicError(401, "authentication_error", "invalid x-api-key"),
        FaultServer.anthropicError(529, "overloaded_error", "Overloaded"),
        FaultServer.anthropicStream(["ok"])
      )
      const failed = yield* consume(model).pipe(Effect.withTracer(tracer))
      const fiber = yield* Effect.fork(
        consume(model).pipe(Effect.withTracer(tracer), Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      )
      yield* advanceTo(10)
      const succeeded = yield* Fiber.join(fiber)
      expect(succeeded.exit).toStrictEqual(Exit.void)
      expect(logs.length).toBeGreaterThan(0)
      expect(spans.length).toBeGreaterThan(0)
      const everything = [
        JSON.stringify(failed, replacer),
        String(failure(failed.exit)),
        ...logs,
        ...spans.map((span) =>
          JSON.stringify(
            [span.name, [...(span as unknown as { attributes: Map<string, unknown> }).attributes]],
            replacer
          )
        )
      ].join("\n")
      expect(everything).toContain("http.request.header.x-api-key")
      expect(everything).not.toContain(apiKey)
      // the key did reach the server, so the check above is not vacuous
      expect((yield* server.requests)[0]?.headers["x-api-key"]).toBe(apiKey)
    }).pipe(withHttp))

  it("a base URL that is not absolute http(s) fails the layer when built, with an InvalidOptions", async () => {
    const refused = await adapterFailure(
      Anthropic.layer({ apiKey: Redacted.make("k"), model: "m", baseUrl: "localhost:8080" })
    )
    expect(refused).toBeInstanceOf(InvalidOptions)
    expect((refused as InvalidOptions).message).toBe(
      "Anthropic: the base URL must be an absolute http(s) URL, got \"localhost:8080\""
    )
    expect(await adapterFailure(Anthropic.layer({ apiKey: Redacted.make("k"), model: "m", baseUrl: "ftp://host" })))
      .toBeInstanceOf(InvalidOptions)
    expect(await adapterFailure(Anthropic.layer({ apiKey: Redacted.make("k"), model: "m" }))).toBeUndefined()
  })

  it.effect("layerConfig reads the key as a Redacted and reports a bad base URL as a ConfigError", () =>
    Effect.gen(function*() {
      const env = (entries: ReadonlyArray<readonly [string, string]>) =>
        Effect.withConfigProvider(ConfigProvider.fromMap(new Map(entries)))
      const program = Effect.map(CompletionModel.CompletionModel, (model) => model.model)
      const layer = Anthropic.layerConfig({
        apiKey: Config.redacted("ANTHROPIC_API_KEY"),
        model: Config.string("MODEL"),
        baseUrl: Config.string("BASE_URL")
      }).pipe(Layer.provide(NodeHttpClient.layerUndici))
      const ok = yield* program.pipe(
        Effect.provide(layer),
        env([["ANTHROPIC_API_KEY", apiKey], ["MODEL", "claude-x"], ["BASE_URL", "http://127.0.0.1:1"]])
      )
      expect(ok).toBe("claude-x")
      const missing = yield* Effect.flip(
        program.pipe(Effect.provide(layer), env([["MODEL", "m"], ["BASE_URL", "http://h"]]))
      )
      expect(String(missing)).toContain("ANTHROPIC_API_KEY")
      const bad = yield* Effect.flip(
        program.pipe(Effect.provide(layer), env([["ANTHROPIC_API_KEY", "k"], ["MODEL", "m"], ["BASE_URL", "nope"]]))
      )
      expect(String(bad)).toContain("the base URL must be an absolute http(s) URL")
    }))
})

// JSON.stringify that shows Maps and errors instead of dropping them.
const replacer = (_: string, value: unknown) =>
  value instanceof Map ? [...value] : value instanceof Error ? { ...value, message: value.message } : value

describe("bounded input over loopback HTTP", () => {
  /** A server that answers every request with `status` and `bytes` of body, written as the client reads it. */
  const hugeBody = (status: number, bytes: number, contentType = "application/json") =>
    Effect.acquireRelease(
      Effect.async<{
        readonly url: string
        readonly written: () => number
        readonly closed: Effect.Effect<void>
        readonly server: Http.Server
      }>(
        (resume) => {
          let written = 0
          let onClose = () => {}
          const closed = Effect.async<void>((done) => {
            onClose = () => done(Effect.void)
          })
          const piece = Buffer.alloc(64 * 1024, "x")
          const server = Http.createServer((_, res) => {
            res.writeHead(status, { "content-type": contentType })
            const pump = () => {
              while (written < bytes) {
                written += piece.length
                if (!res.write(piece)) return void res.once("drain", pump)
              }
              res.end()
            }
            res.on("error", () => {})
            res.socket?.on("close", () => onClose())
            pump()
          })
          server.listen(0, "127.0.0.1", () =>
            resume(Effect.succeed({
              url: `http://127.0.0.1:${(server.address() as Net.AddressInfo).port}`,
              written: () => written,
              closed,
              server
            })))
        }
      ),
      ({ server }) =>
        Effect.async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )

  it.scoped("a 50 MB error body is read up to 64 KiB and the connection dropped: the rest is never sent", () =>
    Effect.gen(function*() {
      const { closed, url, written } = yield* hugeBody(500, 50 * 1024 * 1024)
      const model = yield* Anthropic.make({ apiKey: Redacted.make(apiKey), model: "m", baseUrl: url })
      const error = yield* Effect.flip(model.chatStream(request))
      expect(error._tag).toBe("ServerError")
      expect(error.message.length).toBeLessThan(300)
      // what the server got out before the client hung up: socket buffers, not the body
      yield* closed
      expect(written()).toBeLessThan(8 * 1024 * 1024)
    }).pipe(withHttp))

  it.scoped("a key echoed in a 401 body is scrubbed from the error", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup({ maxAttempts: 1 })
      yield* server.enqueue(FaultServer.anthropicError(401, "authentication_error", `invalid x-api-key: ${apiKey}`))
      const error = failure((yield* consume(model)).exit)
      expect(error?._tag).toBe("AuthenticationError")
      expect(error?.message).toBe("anthropic responded 401 authentication_error: invalid x-api-key: [redacted]")
    }).pipe(withHttp))

  it.scoped("1 MB of events in one write is parsed whole", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup()
      const pieces = Array.from({ length: 20_000 }, (_, i) => `piece ${i} `)
      yield* server.enqueue(FaultServer.stream([FaultServer.raw(
        FaultServer.anthropicEvents(pieces).map((item) =>
          item._tag === "Event" ? `${item.event ? `event: ${item.event}\n` : ""}data: ${item.data}\n\n` : ""
        ).join("")
      )]))
      const { chunks, exit } = yield* consume(model)
      expect(exit).toStrictEqual(Exit.void)
      expect(texts(chunks).join("")).toBe(pieces.join(""))
    }).pipe(withHttp))
})

describe("Anthropic's requests, the whole wire", () => {
  it.scoped("a request with tools, a tool choice, tool use and results, thinking and an image is sent as documented", () =>
    Effect.gen(function*() {
      const { model, server } = yield* setup()
      yield* server.enqueue(FaultServer.anthropicStream(["done"]))
      yield* Chat.consume(model, Chat.toolTurn)
      const [sent] = yield* server.requests
      expect(sent?.json).toMatchObject({
        tools: [{ name: "get_weather", description: "Weather now", input_schema: Chat.weatherSchema }],
        tool_choice: { type: "auto" },
        messages: [
          {
            role: "user",
            content: [
              { type: "text", text: "Weather in SF?" },
              { type: "image", source: { type: "base64", media_type: "image/png", data: "iVBORw0KGgo=" } }
            ]
          },
          {
            role: "assistant",
            content: [
              { type: "thinking", thinking: "Use the tool.", signature: "sig" },
              { type: "tool_use", id: "toolu_01", name: "get_weather", input: { location: "SF" } }
            ]
          },
          {
            role: "user",
            content: [{ type: "tool_result", tool_use_id: "toolu_01", content: "18 C, fog", is_error: false }]
          }
        ]
      })
    }).pipe(withHttp))
})
