import { Sha256 } from "@aws-crypto/sha256-js"
import { NodeHttpClient } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { SignatureV4 } from "@smithy/signature-v4"
import { CompletionModel, Retryable, RetryingModel, RetrySchedule } from "effect-retry-layer"
import { Bedrock } from "effect-retry-layer/bedrock"
import { FaultServer } from "effect-retry-layer/testing/server"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Redacted from "effect/Redacted"
import * as Chat from "../support/chat.js"
import { keys, leaked } from "../support/secrets.js"

/** An error shaped like the AWS SDK v3's service exceptions. */
const awsError = (name: string, status: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} happened`), {
    name,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status, requestId: "aws-req-1", attempts: 1 },
    ...extra
  })

describe("Bedrock classification", () => {
  it.each([
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException"
  ])("%s is a throttling code and a transient RateLimitError, even with a 400", (code) => {
    const error = Bedrock.fromAwsError(awsError(code, 400))
    expect(RetrySchedule.isThrottling(error)).toBe(true)
    expect(error._tag).toBe("RateLimitError")
    expect(Retryable.isTransient(error)).toBe(true)
    expect(error.errorType).toBe(code)
    expect(error.status).toBe(400)
    expect(error.requestId).toBe("aws-req-1")
    expect(error.message).toBe(`bedrock responded 400 ${code}: ${code} happened`)
  })

  it.each(
    [
      ["ServiceUnavailableException", 503, "ServerError"],
      ["ModelNotReadyException", 429, "ServerError"],
      ["InternalServerException", 500, "ServerError"],
      ["ModelTimeoutException", 408, "TimeoutError"]
    ] as const
  )("%s is a transient %s", (code, status, tag) => {
    const error = Bedrock.fromAwsError(awsError(code, status))
    expect(error._tag).toBe(tag)
    expect(Retryable.isTransient(error)).toBe(true)
    expect(RetrySchedule.isThrottling(error)).toBe(false)
  })

  it.each(
    [
      ["ValidationException", 400, "InvalidRequestError"],
      ["AccessDeniedException", 403, "AuthenticationError"],
      ["ResourceNotFoundException", 404, "InvalidRequestError"]
    ] as const
  )("%s is a permanent %s", (code, status, tag) => {
    const error = Bedrock.fromAwsError(awsError(code, status))
    expect(error._tag).toBe(tag)
    expect(Retryable.isTransient(error)).toBe(false)
  })

  it("an unknown code falls back to the status", () => {
    expect(Bedrock.fromAwsError(awsError("SomethingNewException", 502))._tag).toBe("ServerError")
    expect(Bedrock.fromAwsError(awsError("SomethingNewException", 400))._tag).toBe("InvalidRequestError")
  })

  it("reads a Retry-After from the SDK's raw response", () => {
    const error = Bedrock.fromAwsError(
      awsError("ThrottlingException", 429, { $response: { headers: { "retry-after": "3" } } })
    )
    expect(error.retryAfter && Duration.toMillis(error.retryAfter)).toBe(3000)
  })

  it.each([
    ["a string", "boom"],
    ["undefined", undefined],
    ["a plain Error", new Error("boom")],
    ["headers of the wrong type", awsError("X", 500, { $response: { headers: { "retry-after": 5 } } })]
  ])("never throws and never retries what it cannot read: %s", (_, value) => {
    const error = Bedrock.fromAwsError(value)
    if (value instanceof Error && "name" in value && value.name === "X") expect(error._tag).toBe("ServerError")
    else expect(Retryable.isTransient(error)).toBe(false)
  })

  it.effect("classifies raw HTTP responses by x-amzn-errortype", () =>
    Effect.gen(function*() {
      const error = yield* Bedrock.fromResponse({
        status: 400,
        headers: { "x-amzn-errortype": "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/" },
        body: "{\"message\":\"Too many requests, please wait before trying again.\"}"
      })
      expect(error._tag).toBe("RateLimitError")
      expect(error.provider).toBe("bedrock")
    }))
})

describe("Bedrock ConverseStream over loopback HTTP", () => {
  const credentials = {
    accessKeyId: Redacted.make("AKIDEXAMPLE"),
    secretAccessKey: Redacted.make("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
    sessionToken: Redacted.make("session-token-EXAMPLE")
  }
  const model = "anthropic.claude-3-5-sonnet-20240620-v1:0"
  const fast = { maxAttempts: 3, baseDelay: 0, jitter: false } as const
  const setup = Effect.gen(function*() {
    const server = yield* FaultServer.make()
    const adapter = yield* Bedrock.make({ region: "us-east-1", model, credentials, baseUrl: server.url })
    return { server, model: RetryingModel.make(adapter, fast) }
  })
  const withHttp = Effect.provide(NodeHttpClient.layerUndici)
  const request: CompletionModel.ChatRequest = { system: "Be brief.", messages: [{ role: "user", content: "Hi" }] }

  it.scoped("a server echoing the credentials quotes none of them, across a cut or whole, on every path", () =>
    Effect.gen(function*() {
      const server = yield* FaultServer.make()
      const adapter = yield* Bedrock.make({
        region: "us-east-1",
        model,
        credentials: {
          accessKeyId: Redacted.make(keys.awsAccessKeyId),
          secretAccessKey: Redacted.make(keys.awsSecretAccessKey),
          sessionToken: Redacted.make(keys.awsSessionToken)
        },
        baseUrl: server.url
      })
      // each credential starting 10 characters before the 200-character cut of the quoted text
      const straddling = (secret: string) => `${"x".repeat(190)}${secret}${"y".repeat(300)}`
      const echoes = (secret: string) => [
        // a non-JSON 500, a 403 quoting the Credential scope, a 200 of the wrong content type
        FaultServer.respond(500, straddling(secret), { headers: { "content-type": "text/html" } }),
        FaultServer.json(403, { message: `Credential=${secret}/20261206/us-east-1/bedrock/aws4_request` }),
        FaultServer.respond(200, straddling(secret), { headers: { "content-type": "text/html" } }),
        // a malformed event and an exception quoting it in the stream
        FaultServer.stream([FaultServer.bytes(FaultServer.bedrockEvent("messageStart", straddling(secret)))], {
          headers: { "content-type": "application/vnd.amazon.eventstream" }
        }),
        FaultServer.stream([FaultServer.bedrockException("validationException", straddling(secret))], {
          headers: { "content-type": "application/vnd.amazon.eventstream" }
        })
      ]
      for (const secret of [keys.awsAccessKeyId, keys.awsSecretAccessKey, keys.awsSessionToken]) {
        for (const reply of echoes(secret)) {
          yield* server.enqueue(reply)
          const error = Chat.failure((yield* Chat.consume(adapter, request)).exit)
          expect(error).toBeDefined()
          expect(leaked(error!.message, secret)).toEqual([])
          expect(leaked(JSON.stringify(error), secret)).toEqual([])
        }
      }
    }).pipe(withHttp))

  it.scoped("sends a signed Converse request and maps the event stream to chunks", () =>
    Effect.gen(function*() {
      const { model: m, server } = yield* setup
      yield* server.enqueue(FaultServer.bedrockStream(["Hi", "!"], { inputTokens: 7, outputTokens: 2 }))
      const { chunks, exit } = yield* Chat.consume(m, request)
      expect(exit).toStrictEqual(Exit.void)
      expect(Chat.texts(chunks)).toEqual(["Hi", "!"])
      expect(chunks.at(-1)).toStrictEqual(
        CompletionModel.StreamChunk.TurnFinished({
          reason: "stop",
          stopReason: "end_turn",
          usage: { inputTokens: 7, outputTokens: 2 }
        })
      )
      const [sent] = yield* server.requests
      expect(sent?.url).toBe("/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream")
      expect(sent?.json).toEqual({
        messages: [{ role: "user", content: [{ text: "Hi" }] }],
        system: [{ text: "Be brief." }],
        inferenceConfig: { maxTokens: 4096 }
      })
      // What arrived is what was signed: the same request signed again at its own date gives the same signature.
      const headers = sent!.headers as Record<string, string>
      expect(headers["x-amz-security-token"]).toBe("session-token-EXAMPLE")
      const date = headers["x-amz-date"]!
      const signer = new SignatureV4({
        service: "bedrock",
        region: "us-east-1",
        sha256: Sha256,
        credentials: {
          accessKeyId: "AKIDEXAMPLE",
          secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
          sessionToken: "session-token-EXAMPLE"
        }
      })
      const url = new URL(sent!.url, server.url)
      const again = yield* Effect.promise(() =>
        signer.sign({
          method: "POST",
          protocol: "http:",
          hostname: url.hostname,
          port: Number(url.port),
          path: url.pathname,
          query: {},
          headers: { host: url.host, "content-type": headers["content-type"]!, accept: headers["accept"]! },
          body: sent!.body
        }, {
          signingDate: new Date(
            `${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${
              date.slice(13, 15)
            }Z`
          )
        })
      )
      expect(headers["authorization"]).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/bedrock\//)
      expect(headers["authorization"]).toBe(again.headers["authorization"])
      // and the secret is nowhere in what was sent
      expect(JSON.stringify(sent)).not.toContain("wJalrXUtnFEMI")
    }).pipe(withHttp))

  it.scoped("a tool turn: tools and results sent as Converse documents them, the call streamed back", () =>
    Effect.gen(function*() {
      const { model: m, server } = yield* setup
      yield* server.enqueue(
        FaultServer.bedrockStream([], {
          toolCalls: [{ id: "tooluse_1", name: "get_weather", input: { location: "SF" } }]
        })
      )
      const { chunks } = yield* Chat.consume(m, { ...Chat.toolTurn, toolChoice: "any" })
      expect(chunks.filter((c) => c._tag === "ToolCallEnd")).toStrictEqual([
        CompletionModel.StreamChunk.ToolCallEnd({ id: "tooluse_1", name: "get_weather", arguments: { location: "SF" } })
      ])
      expect(chunks.at(-1)).toMatchObject({ _tag: "TurnFinished", reason: "tool_use", stopReason: "tool_use" })
      const [sent] = yield* server.requests
      expect(sent?.json).toMatchObject({
        toolConfig: {
          tools: [{
            toolSpec: { name: "get_weather", description: "Weather now", inputSchema: { json: Chat.weatherSchema } }
          }],
          toolChoice: { any: {} }
        },
        messages: [
          {
            role: "user",
            content: [{ text: "Weather in SF?" }, { image: { format: "png", source: { bytes: "iVBORw0KGgo=" } } }]
          },
          {
            role: "assistant",
            content: [
              { reasoningContent: { reasoningText: { text: "Use the tool.", signature: "sig" } } },
              { toolUse: { toolUseId: "toolu_01", name: "get_weather", input: { location: "SF" } } }
            ]
          },
          {
            role: "user",
            content: [{ toolResult: { toolUseId: "toolu_01", content: [{ text: "18 C, fog" }], status: "success" } }]
          }
        ]
      })
    }).pipe(withHttp))

  it.scoped("a 429 ThrottlingException is a RateLimitError and is retried", () =>
    Effect.gen(function*() {
      const { model: m, server } = yield* setup
      yield* server.enqueue(
        FaultServer.bedrockError(429, "ThrottlingException", "Too many requests, please wait before trying again."),
        FaultServer.bedrockStream(["ok"])
      )
      const { chunks, exit } = yield* Chat.consume(m, request)
      expect(exit).toStrictEqual(Exit.void)
      expect(Chat.texts(chunks)).toEqual(["ok"])
      expect(yield* server.requests).toHaveLength(2)
    }).pipe(withHttp))

  it.scoped("a modelStreamErrorException mid-stream reaches the caller after the text; no second request", () =>
    Effect.gen(function*() {
      const { model: m, server } = yield* setup
      yield* server.enqueue(FaultServer.bedrockStream(["partial"], {
        interrupt: [FaultServer.bedrockException("modelStreamErrorException", "The model stream broke.")]
      }))
      const { chunks, exit } = yield* Chat.consume(m, request)
      expect(Chat.texts(chunks)).toEqual(["partial"])
      const error = Chat.failure(exit)
      expect(error?._tag).toBe("ServerError")
      expect(error?.errorType).toBe("ModelStreamErrorException")
      expect(error?.message).toBe("bedrock sent ModelStreamErrorException mid-stream: The model stream broke.")
      expect(yield* server.requests).toHaveLength(1)
    }).pipe(withHttp))

  const adapter = Bedrock.make({ region: "us-east-1", model, credentials, baseUrl: "http://127.0.0.1:1" })
  it.effect("toolChoice none cannot be expressed: an InvalidRequestError before anything is signed", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(
        Effect.flatMap(adapter, (m) => m.chatStream({ ...request, toolChoice: "none" })).pipe(
          Effect.provide(NodeHttpClient.layerUndici)
        )
      )
      expect(Chat.failure(exit)?.message).toBe(
        "bedrock cannot take toolChoice \"none\" (omit the tools instead); nothing was sent"
      )
    }))
})
