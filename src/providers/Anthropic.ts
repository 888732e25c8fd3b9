/**
 * A `CompletionModel` over Anthropic's Messages API with `stream: true`.
 *
 * Built on `@effect/platform`'s `HttpClient` (provide one, e.g.
 * `NodeHttpClient.layerUndici` from `@effect/platform-node`). Failed
 * responses go through {@link HttpClassification} with Anthropic's error
 * types; the stream maps `message_start`, `content_block_delta`,
 * `message_delta` and `message_stop` to `TextDelta` and `TurnFinished`, and an
 * `error` event (such as `overloaded_error`) to a typed error after the chunks
 * already delivered. The API key is a `Redacted` and never appears in logs,
 * errors or spans.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 * import { RetryingModel } from "effect-retry-layer"
 * import { Anthropic } from "effect-retry-layer/anthropic"
 *
 * const Model = RetryingModel.layer().pipe(
 *   Layer.provide(Anthropic.layerConfig({
 *     apiKey: Config.redacted("ANTHROPIC_API_KEY"),
 *     model: Config.succeed("claude-sonnet-4-5")
 *   })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as CompletionModel from "../CompletionModel.js"
import * as HttpClassification from "../core/HttpClassification.js"
import * as ErrorTypes from "../core/internal/errorTypes.js"
import { defaultMaxTokens } from "../core/internal/tokens.js"
import * as HttpModel from "../internal/httpModel.js"
import type { InvalidOptions } from "../internal/options.js"
import { validated } from "../internal/options.js"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly apiKey: Redacted.Redacted
  /** e.g. `"claude-sonnet-4-5"` */
  readonly model: string
  /** Default `https://api.anthropic.com`; point it at a proxy or a test server. */
  readonly baseUrl?: string
  /** Used when a request sets no `maxTokens` (the API requires one). Default 4096. */
  readonly maxTokens?: number
  /** The `anthropic-version` header. Default `2023-06-01`. */
  readonly version?: string
  /** Limit on sending a request and receiving its status. Default 10 minutes, as in Anthropic's SDK. */
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
 * Anthropic's error types and the tags they deserve; consulted before the
 * status, and the only guide for an `error` event inside a stream.
 *
 * @category constants
 * @since 0.1.0
 */
export const errorTypes: HttpClassification.ErrorTypeTable = ErrorTypes.anthropic

/**
 * Fails with `InvalidOptions` when `baseUrl` is not an absolute http(s) URL or a key is not a `Redacted`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<CompletionModel.Service, InvalidOptions, HttpClient.HttpClient> =>
  validated(() => {
    const url = new URL("v1/messages", HttpModel.baseUrl("Anthropic", options.baseUrl ?? "https://api.anthropic.com"))
    const headers = {
      "x-api-key": Redacted.value(HttpModel.credential("Anthropic", "apiKey", options.apiKey)),
      "anthropic-version": options.version ?? "2023-06-01",
      accept: "text/event-stream"
    }
    return HttpModel.make({
      provider: "anthropic",
      model: options.model,
      errorTypes,
      timeout: options.timeout,
      idleTimeout: options.idleTimeout,
      contentTimeout: options.contentTimeout,
      secretHeaders: ["x-api-key"],
      secrets: [options.apiKey],
      // Anthropic takes every block and tool choice there is, so nothing is refused here.
      request: (request) =>
        Either.right(
          HttpClientRequest.post(url).pipe(
            HttpClientRequest.setHeaders(headers),
            HttpClientRequest.bodyUnsafeJson({
              model: options.model,
              max_tokens: request.maxTokens ?? options.maxTokens ?? defaultMaxTokens,
              messages: request.messages.map((message) => ({
                role: message.role,
                content: typeof message.content === "string" ? message.content : message.content.map(block)
              })),
              ...(request.system === undefined ? {} : { system: request.system }),
              ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
              ...(request.stopSequences === undefined ? {} : { stop_sequences: request.stopSequences }),
              ...(request.tools === undefined ? {} : {
                tools: request.tools.map((tool) => ({
                  name: tool.name,
                  ...(tool.description === undefined ? {} : { description: tool.description }),
                  input_schema: tool.inputSchema
                }))
              }),
              ...(request.toolChoice === undefined ? {} : {
                tool_choice: typeof request.toolChoice === "string"
                  ? { type: request.toolChoice }
                  : { type: "tool", name: request.toolChoice.tool }
              }),
              stream: true
            })
          )
        ),
      decoder
    })
  })

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: Options
): Layer.Layer<CompletionModel.CompletionModel, InvalidOptions, HttpClient.HttpClient> =>
  Layer.effect(CompletionModel.CompletionModel, make(options))

/**
 * {@link layer} with its options read from `Config`, e.g.
 * `{ apiKey: Config.redacted("ANTHROPIC_API_KEY"), model: Config.succeed("claude-sonnet-4-5") }`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options>
): Layer.Layer<
  CompletionModel.CompletionModel,
  ConfigError.ConfigError | InvalidOptions,
  HttpClient.HttpClient
> => HttpModel.layerConfig("Anthropic", options, layer, (resolved) => ["baseUrl", resolved.baseUrl])

// Requests -------------------------------------------------------------------

// A content block in the Messages API's shape.
const block = (content: CompletionModel.ContentBlock): unknown => {
  switch (content.type) {
    case "text":
      return { type: "text", text: content.text }
    case "image":
      return image(content)
    case "tool_use":
      return { type: "tool_use", id: content.id, name: content.name, input: content.input }
    case "tool_result":
      return {
        type: "tool_result",
        tool_use_id: content.toolUseId,
        content: typeof content.content === "string"
          ? content.content
          : content.content.map((part) => part.type === "text" ? { type: "text", text: part.text } : image(part)),
        ...(content.isError === undefined ? {} : { is_error: content.isError })
      }
    case "thinking":
      return { type: "thinking", thinking: content.thinking, signature: content.signature }
    case "redacted_thinking":
      return { type: "redacted_thinking", data: content.data }
  }
}

const image = (content: CompletionModel.ImageBlock) => ({
  type: "image",
  source: { type: "base64", media_type: content.mediaType, data: content.data }
})

// Events ---------------------------------------------------------------------

const stopReasons: Readonly<Record<string, CompletionModel.FinishReason>> = {
  end_turn: "stop",
  max_tokens: "max_tokens",
  stop_sequence: "stop_sequence",
  tool_use: "tool_use",
  pause_turn: "stop",
  refusal: "content_filter"
}

const OptionalCount = Schema.optional(Schema.NullOr(Schema.Number))

const UsageFields = Schema.Struct({
  input_tokens: OptionalCount,
  output_tokens: OptionalCount,
  cache_read_input_tokens: OptionalCount,
  cache_creation_input_tokens: OptionalCount
})

const MessageStart = HttpModel.decodeEvent(Schema.Struct({ message: Schema.Struct({ usage: UsageFields }) }))

const ContentBlockStart = HttpModel.decodeEvent(Schema.Struct({
  index: Schema.Number,
  content_block: Schema.Struct({
    type: Schema.String,
    id: Schema.optional(Schema.String),
    name: Schema.optional(Schema.String),
    data: Schema.optional(Schema.String)
  })
}))

const ContentBlockDelta = HttpModel.decodeEvent(Schema.Struct({
  index: Schema.Number,
  delta: Schema.Struct({
    type: Schema.String,
    text: Schema.optional(Schema.String),
    thinking: Schema.optional(Schema.String),
    signature: Schema.optional(Schema.String),
    partial_json: Schema.optional(Schema.String)
  })
}))

const ContentBlockStop = HttpModel.decodeEvent(Schema.Struct({ index: Schema.Number }))

const MessageDelta = HttpModel.decodeEvent(Schema.Struct({
  delta: Schema.Struct({ stop_reason: Schema.optional(Schema.NullOr(Schema.String)) }),
  usage: Schema.optional(UsageFields)
}))

const none: ReadonlyArray<CompletionModel.StreamChunk> = []

const decoder = (context: HttpModel.DecoderContext): HttpModel.Decoder => {
  const usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }
  let sawCache = false
  let stopReason: string | undefined
  const calls = HttpModel.toolCalls(context)
  const count = (fields: typeof UsageFields.Type) => {
    if (fields.input_tokens != null) usage.inputTokens = fields.input_tokens
    if (fields.output_tokens != null) usage.outputTokens = fields.output_tokens
    if (fields.cache_read_input_tokens != null) {
      usage.cacheReadTokens = fields.cache_read_input_tokens
      sawCache = true
    }
    if (fields.cache_creation_input_tokens != null) {
      usage.cacheWriteTokens = fields.cache_creation_input_tokens
      sawCache = true
    }
  }
  return (event) => {
    switch (event.event) {
      case "message_start":
        return Either.map(MessageStart(context, event), ({ message }) => {
          count(message.usage)
          return none
        })
      case "content_block_start":
        return Either.flatMap(ContentBlockStart(context, event), ({ content_block: block, index }) => {
          if (block.type === "tool_use") return calls.start(index, block.id ?? `call_${index}`, block.name ?? "")
          if (block.type === "redacted_thinking" && block.data !== undefined) {
            return Either.right([CompletionModel.StreamChunk.RedactedThinking({ data: block.data })])
          }
          return Either.right(none)
        })
      case "content_block_delta":
        return Either.flatMap(ContentBlockDelta(context, event), ({ delta, index }) => {
          switch (delta.type) {
            case "text_delta":
              return Either.right(delta.text ? [CompletionModel.StreamChunk.TextDelta({ text: delta.text })] : none)
            case "thinking_delta":
              return Either.right(
                delta.thinking ? [CompletionModel.StreamChunk.ThinkingDelta({ thinking: delta.thinking })] : none
              )
            case "signature_delta":
              return Either.right(
                delta.signature ? [CompletionModel.StreamChunk.ThinkingSignature({ signature: delta.signature })] : none
              )
            case "input_json_delta":
              return calls.delta(index, delta.partial_json)
          }
          // citations and delta types added after this was written
          return Either.right(none)
        })
      case "content_block_stop":
        return Either.flatMap(ContentBlockStop(context, event), ({ index }) => calls.end(index))
      case "message_delta":
        return Either.map(MessageDelta(context, event), ({ delta, usage: fields }) => {
          if (delta.stop_reason) stopReason = delta.stop_reason
          if (fields !== undefined) count(fields)
          return none
        })
      case "message_stop":
        return Either.right([
          CompletionModel.StreamChunk.TurnFinished({
            reason: (stopReason && stopReasons[stopReason]) || "unknown",
            usage: sawCache
              ? { ...usage }
              : { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens },
            ...(stopReason === undefined ? {} : { stopReason })
          })
        ])
      case "error":
        return Either.left(HttpClassification.fromErrorEvent({ ...context, data: event.data, errorTypes }))
      default:
        // ping and event types added after this was written
        return Either.right(none)
    }
  }
}
