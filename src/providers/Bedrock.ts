/**
 * Amazon Bedrock: a streaming adapter (`ConverseStream` over `@effect/platform`'s
 * HttpClient, signed with SigV4 by `@smithy/signature-v4`, its AWS event
 * stream read with `@smithy/eventstream-codec`), and the classification of
 * AWS errors, for the adapter or for your own code that calls Bedrock through
 * the AWS SDK.
 *
 * AWS reports throttling by error code, sometimes with a 400 rather than a
 * 429, so the code decides: `ThrottlingException`, `TooManyRequestsException`,
 * `RequestLimitExceeded` and `ProvisionedThroughputExceededException` are
 * rate limits; `ServiceUnavailableException`, `ModelNotReadyException` and
 * `InternalServerException` are transient server errors; `ModelTimeoutException`
 * is a timeout. Other codes fall back to the status.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RetrySchedule } from "effect-retry-layer"
 * import { Bedrock } from "effect-retry-layer/bedrock"
 *
 * // An AWS SDK v3 call, its errors classified so the retry schedule can read them.
 * declare const send: () => Promise<unknown>
 * const call = Effect.tryPromise({ try: send, catch: Bedrock.fromAwsError })
 * const resilient = Effect.retry(call, RetrySchedule.make())
 * ```
 *
 * @since 0.1.0
 */
import { Sha256 } from "@aws-crypto/sha256-js"
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import { SignatureV4 } from "@smithy/signature-v4"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as CompletionModel from "../CompletionModel.js"
import * as ForeignError from "../core/ForeignError.js"
import * as HttpClassification from "../core/HttpClassification.js"
import * as ErrorTypes from "../core/internal/errorTypes.js"
import { defaultMaxTokens } from "../core/internal/tokens.js"
import * as ModelError from "../core/ModelError.js"
import * as RetryAfter from "../core/RetryAfter.js"
import * as EventStream from "../internal/eventStream.js"
import * as HttpModel from "../internal/httpModel.js"
import type { InvalidOptions } from "../internal/options.js"
import { validated } from "../internal/options.js"

/**
 * AWS credentials, each a `Redacted`.
 *
 * @category models
 * @since 0.3.0
 */
export interface Credentials {
  readonly accessKeyId: Redacted.Redacted
  readonly secretAccessKey: Redacted.Redacted
  /** For temporary credentials (an assumed role, SSO). */
  readonly sessionToken?: Redacted.Redacted
}

/**
 * @category models
 * @since 0.3.0
 */
export interface Options {
  /** e.g. `"us-east-1"` */
  readonly region: string
  /** A model or inference profile id, e.g. `"anthropic.claude-3-5-sonnet-20240620-v1:0"`. */
  readonly model: string
  readonly credentials: Credentials
  /** Default `https://bedrock-runtime.<region>.amazonaws.com`; point it at a VPC endpoint or a test server. */
  readonly baseUrl?: string
  /** Used when a request sets no `maxTokens`. Default 4096. */
  readonly maxTokens?: number
  /** Limit on sending a request and receiving its status. Default 10 minutes. */
  readonly timeout?: Duration.DurationInput
  /** Limit on the wait for each piece of an open stream. Default 5 minutes. */
  readonly idleTimeout?: Duration.DurationInput
  /**
   * Limit on the time an open stream goes without content (text, thinking, a tool call, the turn's end):
   * comments and pings keep a connection open but do not count. Default 10 minutes.
   */
  readonly contentTimeout?: Duration.DurationInput
}

/**
 * A `CompletionModel` over Bedrock's `ConverseStream`.
 *
 * Fails with `InvalidOptions` when `baseUrl` is not an absolute http(s) URL or a key is not a `Redacted`.
 *
 * @category constructors
 * @since 0.3.0
 */
export const make = (options: Options): Effect.Effect<CompletionModel.Service, InvalidOptions, HttpClient.HttpClient> =>
  validated(() => {
    const base = HttpModel.baseUrl(
      "Bedrock",
      options.baseUrl ?? `https://bedrock-runtime.${options.region}.amazonaws.com`
    )
    // The model id goes in the path encoded (`:` as `%3A`); SigV4 signs that path encoded once more, as the SDK does.
    const url = new URL(`model/${encodeURIComponent(options.model)}/converse-stream`, base)
    const given = options.credentials
    const credentials = {
      accessKeyId: HttpModel.credential("Bedrock", "credentials.accessKeyId", given?.accessKeyId),
      secretAccessKey: HttpModel.credential("Bedrock", "credentials.secretAccessKey", given?.secretAccessKey),
      ...(given?.sessionToken === undefined
        ? {}
        : { sessionToken: HttpModel.credential("Bedrock", "credentials.sessionToken", given.sessionToken) })
    }
    const signer = new SignatureV4({
      service: "bedrock",
      region: options.region,
      sha256: Sha256,
      credentials: () =>
        Promise.resolve({
          accessKeyId: Redacted.value(credentials.accessKeyId),
          secretAccessKey: Redacted.value(credentials.secretAccessKey),
          ...(credentials.sessionToken === undefined
            ? {}
            : { sessionToken: Redacted.value(credentials.sessionToken) })
        })
    })
    return HttpModel.make({
      provider,
      model: options.model,
      errorTypes,
      wire: { contentType: "application/vnd.amazon.eventstream", events: EventStream.messagesPerRead },
      timeout: options.timeout,
      idleTimeout: options.idleTimeout,
      contentTimeout: options.contentTimeout,
      secretHeaders: ["x-amz-security-token"],
      secrets: [
        credentials.accessKeyId,
        credentials.secretAccessKey,
        ...(credentials.sessionToken === undefined ? [] : [credentials.sessionToken])
      ],
      request: (request) =>
        Effect.flatMap(converse(request, options.maxTokens ?? defaultMaxTokens), (body) =>
          Effect.map(
            Effect.tryPromise({
              try: () =>
                signer.sign({
                  method: "POST",
                  protocol: url.protocol,
                  hostname: url.hostname,
                  ...(url.port === "" ? {} : { port: Number(url.port) }),
                  path: url.pathname,
                  query: {},
                  headers: {
                    host: url.host,
                    "content-type": "application/json",
                    accept: "application/vnd.amazon.eventstream"
                  },
                  body
                }),
              catch: (error) =>
                new ModelError.InvalidRequestError({
                  provider,
                  message: `bedrock: the request could not be signed (${error instanceof Error ? error.message : "?"})`
                })
            }),
            (signed) => {
              // The client sets `host` from the URL itself (the same value that was signed).
              const { host: _host, ...headers } = signed.headers
              return HttpClientRequest.post(url).pipe(
                HttpClientRequest.setHeaders(headers),
                HttpClientRequest.bodyText(body, "application/json")
              )
            }
          )),
      decoder
    })
  })

/**
 * Fails with `InvalidOptions` when `baseUrl` is not an absolute http(s) URL or a key is not a `Redacted`.
 *
 * @category layers
 * @since 0.3.0
 */
export const layer = (
  options: Options
): Layer.Layer<CompletionModel.CompletionModel, InvalidOptions, HttpClient.HttpClient> =>
  Layer.effect(CompletionModel.CompletionModel, make(options))

/**
 * {@link layer} with its options read from `Config`, e.g.
 * `{ region: Config.string("AWS_REGION"), model: Config.succeed("..."), credentials: { accessKeyId:
 * Config.redacted("AWS_ACCESS_KEY_ID"), secretAccessKey: Config.redacted("AWS_SECRET_ACCESS_KEY") } }`.
 *
 * @category layers
 * @since 0.3.0
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options>
): Layer.Layer<
  CompletionModel.CompletionModel,
  ConfigError.ConfigError | InvalidOptions,
  HttpClient.HttpClient
> => HttpModel.layerConfig("Bedrock", options, layer, (resolved) => ["baseUrl", resolved.baseUrl])

const provider = "bedrock"

/**
 * AWS error codes and the tags they deserve.
 *
 * @category constants
 * @since 0.1.0
 */
export const errorTypes: HttpClassification.ErrorTypeTable = ErrorTypes.bedrock

/**
 * Classifies a failed Bedrock HTTP response (codes from the
 * `x-amzn-errortype` header or the body's `__type`).
 *
 * @category classification
 * @since 0.1.0
 */
export const fromResponse = (
  response: Omit<HttpClassification.FailedResponse, "provider" | "errorTypes">
): Effect.Effect<ModelError.ModelError> =>
  HttpClassification.fromResponse({ ...response, provider: "bedrock", errorTypes })

/**
 * Classifies an error thrown by the AWS SDK v3 (`name` is the code,
 * `$metadata` carries the status and request id) or anything shaped like
 * one. A value that is not an error at all becomes a permanent
 * `InvalidRequestError`, so nothing unknown is retried. A `Retry-After` on the
 * raw response (`$response.headers`) is read against `now`, which defaults to
 * the system clock because this runs in a plain `catch` callback.
 *
 * @category classification
 * @since 0.1.0
 */
export const fromAwsError = (error: unknown, now: number = Date.now()): ModelError.ModelError => {
  // Tag, status, code and request id as every foreign error is read; the hint here also reads HTTP-dates.
  const recognized = ForeignError.recognize(error)
  const code = recognized?.errorType ?? stringField(error, "name") ?? stringField(error, "code")
  const message = stringField(error, "message") ?? stringField(error, "Message") ?? safeString(error)
  const status = recognized?.status
  const requestId = recognized?.requestId
  return ModelError.make(recognized?.tag ?? "InvalidRequestError", {
    provider: "bedrock",
    message: `bedrock${status === undefined ? "" : ` responded ${status}`}${code ? ` ${code}` : ""}: ${
      HttpClassification.safeText(message)
    }`,
    ...(status === undefined ? {} : { status }),
    ...(requestId === undefined ? {} : { requestId }),
    ...(code === undefined ? {} : { errorType: code }),
    ...Option.match(
      Option.orElse(RetryAfter.parse(rawHeaders(error), now), () => Option.fromNullable(recognized?.retryAfter)),
      {
        onNone: () => ({}),
        onSome: (retryAfter) => ({ retryAfter })
      }
    ),
    cause: error
  })
}

const safeString = (u: unknown): string => {
  try {
    return String(u)
  } catch {
    return typeof u
  }
}

const stringField = (u: unknown, key: string): string | undefined =>
  Predicate.hasProperty(u, key) && Predicate.isString(u[key]) && u[key] !== "" ? u[key] : undefined

// The SDK keeps the raw response on `$response`; a Retry-After there is still the server's word.
const rawHeaders = (error: unknown): RetryAfter.HeaderRecord => {
  const response = Predicate.hasProperty(error, "$response") ? error.$response : undefined
  const headers = Predicate.hasProperty(response, "headers") ? response.headers : undefined
  return Predicate.isRecord(headers) ? headers as RetryAfter.HeaderRecord : {}
}

// Requests -------------------------------------------------------------------

const imageFormats: Readonly<Record<string, string>> = {
  "image/png": "png",
  "image/jpeg": "jpeg",
  "image/gif": "gif",
  "image/webp": "webp"
}

const unsupported = (what: string) => HttpModel.unsupported(provider, what)

// The Converse API's body; what it cannot take is refused before anything is signed or sent.
const converse = (
  request: CompletionModel.ChatRequest,
  maxTokens: number
): Either.Either<string, ModelError.ModelError> => {
  if (request.toolChoice === "none") return Either.left(unsupported("toolChoice \"none\" (omit the tools instead)"))
  const image = (block: CompletionModel.ImageBlock) => {
    const format = imageFormats[block.mediaType]
    return format === undefined
      ? Either.left(unsupported(`an image of type ${block.mediaType}`))
      : Either.right({ image: { format, source: { bytes: block.data } } })
  }
  const content = (block: CompletionModel.ContentBlock): Either.Either<unknown, ModelError.ModelError> => {
    switch (block.type) {
      case "text":
        return Either.right({ text: block.text })
      case "image":
        return image(block)
      case "tool_use":
        return Either.right({ toolUse: { toolUseId: block.id, name: block.name, input: block.input ?? {} } })
      case "tool_result":
        return Either.map(
          typeof block.content === "string"
            ? Either.right([{ text: block.content }])
            : Either.all(
              block.content.map((part) => part.type === "text" ? Either.right({ text: part.text }) : image(part))
            ),
          (parts) => ({
            toolResult: { toolUseId: block.toolUseId, content: parts, status: block.isError ? "error" : "success" }
          })
        )
      case "thinking":
        return Either.right({
          reasoningContent: { reasoningText: { text: block.thinking, signature: block.signature } }
        })
      case "redacted_thinking":
        return Either.right({ reasoningContent: { redactedContent: block.data } })
    }
  }
  return Either.map(
    Either.all(request.messages.map((message) =>
      Either.map(
        typeof message.content === "string"
          ? Either.right([{ text: message.content }])
          : Either.all(message.content.map(content)),
        (blocks) => ({ role: message.role, content: blocks })
      )
    )),
    (messages) =>
      JSON.stringify({
        messages,
        ...(request.system === undefined ? {} : { system: [{ text: request.system }] }),
        inferenceConfig: {
          maxTokens: request.maxTokens ?? maxTokens,
          ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
          ...(request.stopSequences === undefined ? {} : { stopSequences: request.stopSequences })
        },
        ...(request.tools === undefined ? {} : {
          toolConfig: {
            tools: request.tools.map((tool) => ({
              toolSpec: {
                name: tool.name,
                ...(tool.description === undefined ? {} : { description: tool.description }),
                inputSchema: { json: tool.inputSchema }
              }
            })),
            ...(request.toolChoice === undefined ? {} : {
              toolChoice: typeof request.toolChoice === "string"
                ? { [request.toolChoice]: {} }
                : { tool: { name: request.toolChoice.tool } }
            })
          }
        })
      })
  )
}

// Events ---------------------------------------------------------------------

const stopReasons: Readonly<Record<string, CompletionModel.FinishReason>> = {
  end_turn: "stop",
  tool_use: "tool_use",
  max_tokens: "max_tokens",
  stop_sequence: "stop_sequence",
  guardrail_intervened: "content_filter",
  content_filtered: "content_filter"
}

const BlockStart = HttpModel.decodeEvent(Schema.Struct({
  contentBlockIndex: Schema.Number,
  start: Schema.optional(Schema.Struct({
    toolUse: Schema.optional(Schema.Struct({ toolUseId: Schema.String, name: Schema.String }))
  }))
}))

const BlockDelta = HttpModel.decodeEvent(Schema.Struct({
  contentBlockIndex: Schema.Number,
  delta: Schema.Struct({
    text: Schema.optional(Schema.String),
    toolUse: Schema.optional(Schema.Struct({ input: Schema.String })),
    reasoningContent: Schema.optional(Schema.Struct({
      text: Schema.optional(Schema.String),
      signature: Schema.optional(Schema.String),
      redactedContent: Schema.optional(Schema.String)
    }))
  })
}))

const BlockStop = HttpModel.decodeEvent(Schema.Struct({ contentBlockIndex: Schema.Number }))

const MessageStop = HttpModel.decodeEvent(Schema.Struct({ stopReason: Schema.String }))

const Metadata = HttpModel.decodeEvent(Schema.Struct({
  usage: Schema.Struct({
    inputTokens: Schema.Number,
    outputTokens: Schema.Number,
    cacheReadInputTokens: Schema.optional(Schema.Number),
    cacheWriteInputTokens: Schema.optional(Schema.Number)
  })
}))

const ExceptionBody = Schema.decodeUnknownOption(
  Schema.parseJson(Schema.Struct({ message: Schema.optional(Schema.String) }))
)

const none: ReadonlyArray<CompletionModel.StreamChunk> = []

const decoder = (context: HttpModel.DecoderContext): HttpModel.Decoder => {
  let stopReason: string | undefined
  const calls = HttpModel.toolCalls(context)
  return (event) => {
    if (event.event.startsWith("exception:")) {
      // Exception types arrive in lower camel case (`modelStreamErrorException`); the table has them capitalised.
      const raw = event.event.slice("exception:".length)
      const errorType = raw.charAt(0).toUpperCase() + raw.slice(1)
      const said = Option.flatMap(ExceptionBody(event.data), (body) => Option.fromNullable(body.message))
      return Either.left(ModelError.make(errorTypes[errorType] ?? "StreamError", {
        provider,
        ...(context.requestId === undefined ? {} : { requestId: context.requestId }),
        errorType,
        message: `bedrock sent ${errorType} mid-stream: ${
          Option.match(said, {
            onNone: () => HttpClassification.safeText(event.data, context.secrets, 200),
            onSome: (message) => HttpClassification.safeText(message, context.secrets)
          })
        }`
      }))
    }
    switch (event.event) {
      case "contentBlockStart":
        return Either.flatMap(BlockStart(context, event), ({ contentBlockIndex: index, start }) => {
          const tool = start?.toolUse
          return tool === undefined ? Either.right(none) : calls.start(index, tool.toolUseId, tool.name)
        })
      case "contentBlockDelta":
        return Either.flatMap(BlockDelta(context, event), ({ contentBlockIndex: index, delta }) => {
          const out: Array<CompletionModel.StreamChunk> = []
          if (delta.text) out.push(CompletionModel.StreamChunk.TextDelta({ text: delta.text }))
          const args = calls.delta(index, delta.toolUse?.input)
          if (Either.isLeft(args)) return args
          out.push(...args.right)
          const reasoning = delta.reasoningContent
          if (reasoning?.text) out.push(CompletionModel.StreamChunk.ThinkingDelta({ thinking: reasoning.text }))
          if (reasoning?.signature) {
            out.push(CompletionModel.StreamChunk.ThinkingSignature({ signature: reasoning.signature }))
          }
          if (reasoning?.redactedContent) {
            out.push(CompletionModel.StreamChunk.RedactedThinking({ data: reasoning.redactedContent }))
          }
          return Either.right(out)
        })
      case "contentBlockStop":
        return Either.flatMap(BlockStop(context, event), ({ contentBlockIndex: index }) => calls.end(index))
      case "messageStop":
        return Either.map(MessageStop(context, event), (stop) => {
          stopReason = stop.stopReason
          return none
        })
      case "metadata":
        // The last event: the usage, after messageStop.
        return Either.map(Metadata(context, event), ({ usage }) => [
          CompletionModel.StreamChunk.TurnFinished({
            reason: (stopReason && stopReasons[stopReason]) || "unknown",
            usage: {
              inputTokens: usage.inputTokens,
              outputTokens: usage.outputTokens,
              ...(usage.cacheReadInputTokens === undefined ? {} : { cacheReadTokens: usage.cacheReadInputTokens }),
              ...(usage.cacheWriteInputTokens === undefined ? {} : { cacheWriteTokens: usage.cacheWriteInputTokens })
            },
            ...(stopReason === undefined ? {} : { stopReason })
          })
        ])
      default:
        // messageStart and event types added after this was written
        return Either.right(none)
    }
  }
}
