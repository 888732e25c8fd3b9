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
 *   Layer.provide(Anthropic.layerConfig({ apiKey: Config.redacted("ANTHROPIC_API_KEY"), model: "claude-sonnet-4-5" })),
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
import * as HttpClassification from "../HttpClassification.js"
import * as ErrorTypes from "../internal/errorTypes.js"
import * as HttpModel from "../internal/httpModel.js"

/**
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
}

/**
 * Anthropic's error types and the tags they deserve; consulted before the
 * status, and the only guide for an `error` event inside a stream.
 *
 * @since 0.1.0
 */
export const errorTypes: HttpClassification.ErrorTypeTable = ErrorTypes.anthropic

/**
 * @throws TypeError when `baseUrl` is not an absolute http(s) URL
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<CompletionModel.Service, never, HttpClient.HttpClient> => {
  const url = new URL("v1/messages", HttpModel.baseUrl("Anthropic", options.baseUrl ?? "https://api.anthropic.com"))
  const headers = {
    "x-api-key": Redacted.value(options.apiKey),
    "anthropic-version": options.version ?? "2023-06-01",
    accept: "text/event-stream"
  }
  return HttpModel.make({
    provider: "anthropic",
    model: options.model,
    errorTypes,
    timeout: options.timeout,
    idleTimeout: options.idleTimeout,
    secretHeaders: ["x-api-key"],
    secrets: [options.apiKey],
    request: (request) =>
      HttpClientRequest.post(url).pipe(
        HttpClientRequest.setHeaders(headers),
        HttpClientRequest.bodyUnsafeJson({
          model: options.model,
          max_tokens: request.maxTokens ?? options.maxTokens ?? 4096,
          messages: request.messages,
          ...(request.system === undefined ? {} : { system: request.system }),
          ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
          ...(request.stopSequences === undefined ? {} : { stop_sequences: request.stopSequences }),
          stream: true
        })
      ),
    decoder
  })
}

/**
 * @since 0.1.0
 */
export const layer = (
  options: Options
): Layer.Layer<CompletionModel.CompletionModel, never, HttpClient.HttpClient> =>
  Layer.effect(CompletionModel.CompletionModel, make(options))

/**
 * {@link layer} with its options read from `Config`, e.g.
 * `{ apiKey: Config.redacted("ANTHROPIC_API_KEY"), model: "claude-sonnet-4-5" }`.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options>
): Layer.Layer<CompletionModel.CompletionModel, ConfigError.ConfigError, HttpClient.HttpClient> =>
  HttpModel.layerConfig("Anthropic", options, layer, (resolved) => ["baseUrl", resolved.baseUrl])

// Events ---------------------------------------------------------------------

const stopReasons: Readonly<Record<string, CompletionModel.FinishReason>> = {
  end_turn: "stop",
  max_tokens: "max_tokens",
  stop_sequence: "stop_sequence",
  tool_use: "tool_use",
  refusal: "content_filter"
}

const MessageStart = HttpModel.decodeEvent(Schema.Struct({
  message: Schema.Struct({
    usage: Schema.Struct({ input_tokens: Schema.Number, output_tokens: Schema.optional(Schema.Number) })
  })
}))

const ContentBlockDelta = HttpModel.decodeEvent(Schema.Struct({
  delta: Schema.Struct({ type: Schema.String, text: Schema.optional(Schema.String) })
}))

const MessageDelta = HttpModel.decodeEvent(Schema.Struct({
  delta: Schema.Struct({ stop_reason: Schema.optional(Schema.NullOr(Schema.String)) }),
  usage: Schema.optional(Schema.Struct({ output_tokens: Schema.Number }))
}))

const none: ReadonlyArray<CompletionModel.StreamChunk> = []

const decoder = (context: HttpModel.DecoderContext): HttpModel.Decoder => {
  const facts = context
  let inputTokens = 0
  let outputTokens = 0
  let reason: CompletionModel.FinishReason = "unknown"
  return (event) => {
    switch (event.event) {
      case "message_start":
        return Either.map(MessageStart(facts, event), ({ message }) => {
          inputTokens = message.usage.input_tokens
          outputTokens = message.usage.output_tokens ?? 0
          return none
        })
      case "content_block_delta":
        // Only text is a TextDelta; tool input and thinking deltas are not part of the answer text.
        return Either.map(
          ContentBlockDelta(facts, event),
          ({ delta }) =>
            delta.type === "text_delta" && delta.text !== undefined && delta.text !== ""
              ? [CompletionModel.StreamChunk.TextDelta({ text: delta.text })]
              : none
        )
      case "message_delta":
        return Either.map(MessageDelta(facts, event), ({ delta, usage }) => {
          reason = (delta.stop_reason && stopReasons[delta.stop_reason]) || "unknown"
          if (usage !== undefined) outputTokens = usage.output_tokens
          return none
        })
      case "message_stop":
        return Either.right([
          CompletionModel.StreamChunk.TurnFinished({ reason, usage: { inputTokens, outputTokens } })
        ])
      case "error":
        return Either.left(HttpClassification.fromErrorEvent({ ...context, data: event.data, errorTypes }))
      default:
        // ping, content_block_start/stop and event types added after this was written
        return Either.right(none)
    }
  }
}
