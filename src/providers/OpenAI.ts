/**
 * A `CompletionModel` over OpenAI's Chat Completions API with `stream: true`,
 * and the same over an Azure OpenAI deployment.
 *
 * Built on `@effect/platform`'s `HttpClient` (provide one, e.g.
 * `NodeHttpClient.layerUndici`). Failed responses go through
 * {@link HttpClassification} with OpenAI's error types (`insufficient_quota`
 * is a permanent `QuotaExceededError`, not a rate limit to wait out). The
 * stream asks for `stream_options.include_usage` and maps content deltas to
 * `TextDelta` and the finish reason and usage to a `TurnFinished` at `[DONE]`.
 * API keys are `Redacted` and never appear in logs, errors or spans (Azure's
 * `api-key` header included).
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer, Redacted } from "effect"
 * import { RetryingModel } from "effect-retry-layer"
 * import { OpenAI } from "effect-retry-layer/openai"
 *
 * const Model = RetryingModel.layer().pipe(
 *   Layer.provide(OpenAI.layerConfig({ apiKey: Config.redacted("OPENAI_API_KEY"), model: Config.succeed("gpt-4o-mini") })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 *
 * const Azure = OpenAI.layerAzure({
 *   apiKey: Redacted.make(process.env.AZURE_OPENAI_API_KEY!),
 *   endpoint: "https://my-resource.openai.azure.com",
 *   deployment: "gpt-4o-mini"
 * })
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
import type * as ModelError from "../core/ModelError.js"
import * as HttpModel from "../internal/httpModel.js"
import type { InvalidOptions } from "../internal/options.js"
import { validated } from "../internal/options.js"

/**
 * Settings shared by OpenAI and Azure OpenAI.
 *
 * @category models
 * @since 0.1.0
 */
export interface CommonOptions {
  readonly apiKey: Redacted.Redacted
  /** Limit on sending a request and receiving its status. Default 10 minutes, as in OpenAI's SDK. */
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
 * @category models
 * @since 0.1.0
 */
export interface Options extends CommonOptions {
  /** e.g. `"gpt-4o-mini"` */
  readonly model: string
  /** Default `https://api.openai.com/v1`; any OpenAI-compatible server works. */
  readonly baseUrl?: string
  readonly organization?: string
  readonly project?: string
}

/**
 * @category models
 * @since 0.1.0
 */
export interface AzureOptions extends CommonOptions {
  /** The resource endpoint, e.g. `https://my-resource.openai.azure.com`. */
  readonly endpoint: string
  readonly deployment: string
  /** The `api-version` query parameter. Default `2024-10-21`. */
  readonly apiVersion?: string
}

/**
 * OpenAI's error types and codes and the tags they deserve, consulted before
 * the status and for errors inside a stream.
 *
 * @category constants
 * @since 0.1.0
 */
export const errorTypes: HttpClassification.ErrorTypeTable = ErrorTypes.openai

const provider = "openai"

/**
 * Fails with `InvalidOptions` when `baseUrl` is not an absolute http(s) URL or a key is not a `Redacted`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<CompletionModel.Service, InvalidOptions, HttpClient.HttpClient> =>
  validated(() =>
    makeWith(options, {
      model: options.model,
      url: new URL("chat/completions", HttpModel.baseUrl("OpenAI", options.baseUrl ?? "https://api.openai.com/v1")),
      headers: {
        authorization: `Bearer ${Redacted.value(HttpModel.credential("OpenAI", "apiKey", options.apiKey))}`,
        ...(options.organization === undefined ? {} : { "openai-organization": options.organization }),
        ...(options.project === undefined ? {} : { "openai-project": options.project })
      },
      secretHeaders: []
    })
  )

/**
 * An Azure OpenAI deployment: `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...`
 * with the key in the `api-key` header.
 *
 * Fails with `InvalidOptions` when `endpoint` is not an absolute http(s) URL or a key is not a `Redacted`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeAzure = (
  options: AzureOptions
): Effect.Effect<CompletionModel.Service, InvalidOptions, HttpClient.HttpClient> =>
  validated(() => {
    const url = new URL(
      `openai/deployments/${encodeURIComponent(options.deployment)}/chat/completions`,
      HttpModel.baseUrl("Azure OpenAI", options.endpoint, "endpoint")
    )
    url.searchParams.set("api-version", options.apiVersion ?? "2024-10-21")
    return makeWith(options, {
      model: options.deployment,
      url,
      headers: { "api-key": Redacted.value(HttpModel.credential("Azure OpenAI", "apiKey", options.apiKey)) },
      secretHeaders: ["api-key"]
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
 * @category layers
 * @since 0.1.0
 */
export const layerAzure = (
  options: AzureOptions
): Layer.Layer<CompletionModel.CompletionModel, InvalidOptions, HttpClient.HttpClient> =>
  Layer.effect(CompletionModel.CompletionModel, makeAzure(options))

/**
 * {@link layer} with its options read from `Config`, e.g.
 * `{ apiKey: Config.redacted("OPENAI_API_KEY"), model: Config.succeed("gpt-4o-mini") }`.
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
> => HttpModel.layerConfig("OpenAI", options, layer, (resolved) => ["baseUrl", resolved.baseUrl])

/**
 * {@link layerAzure} with its options read from `Config`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerAzureConfig = (
  options: Config.Config.Wrap<AzureOptions>
): Layer.Layer<
  CompletionModel.CompletionModel,
  ConfigError.ConfigError | InvalidOptions,
  HttpClient.HttpClient
> => HttpModel.layerConfig("Azure OpenAI", options, layerAzure, (resolved) => ["endpoint", resolved.endpoint])

const makeWith = (
  options: CommonOptions,
  target: {
    readonly model: string
    readonly url: URL
    readonly headers: Readonly<Record<string, string>>
    readonly secretHeaders: ReadonlyArray<string>
  }
) =>
  HttpModel.make({
    provider,
    model: target.model,
    errorTypes,
    timeout: options.timeout,
    idleTimeout: options.idleTimeout,
    contentTimeout: options.contentTimeout,
    secretHeaders: target.secretHeaders,
    secrets: [options.apiKey],
    request: (request) =>
      Either.map(messages(request), (wire) =>
        HttpClientRequest.post(target.url).pipe(
          HttpClientRequest.setHeaders({ ...target.headers, accept: "text/event-stream" }),
          HttpClientRequest.bodyUnsafeJson({
            model: target.model,
            messages: [
              ...(request.system === undefined ? [] : [{ role: "system", content: request.system }]),
              ...wire
            ],
            ...(request.maxTokens === undefined ? {} : { max_completion_tokens: request.maxTokens }),
            ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
            ...(request.stopSequences === undefined ? {} : { stop: request.stopSequences }),
            ...(request.tools === undefined ? {} : {
              tools: request.tools.map((tool) => ({
                type: "function",
                function: {
                  name: tool.name,
                  ...(tool.description === undefined ? {} : { description: tool.description }),
                  parameters: tool.inputSchema
                }
              }))
            }),
            ...(request.toolChoice === undefined ? {} : { tool_choice: toolChoice(request.toolChoice) }),
            stream: true,
            stream_options: { include_usage: true }
          })
        )),
    decoder
  })

// Requests -------------------------------------------------------------------

const toolChoice = (choice: CompletionModel.ToolChoice): unknown =>
  choice === "any"
    ? "required"
    : typeof choice === "string"
    ? choice
    : { type: "function", function: { name: choice.tool } }

const image = (block: CompletionModel.ImageBlock) => ({
  type: "image_url",
  image_url: { url: `data:${block.mediaType};base64,${block.data}` }
})

// Chat Completions messages: a user message's tool results become `tool` messages of their own (before the rest
// of it), an assistant's tool calls its `tool_calls`. What the API has no place for is refused, not dropped.
const messages = (request: CompletionModel.ChatRequest): Either.Either<Array<unknown>, ModelError.ModelError> => {
  const out: Array<unknown> = []
  for (const message of request.messages) {
    if (typeof message.content === "string") {
      out.push({ role: message.role, content: message.content })
      continue
    }
    const parts: Array<unknown> = []
    const calls: Array<unknown> = []
    for (const block of message.content) {
      switch (block.type) {
        case "text":
          parts.push({ type: "text", text: block.text })
          break
        case "image":
          if (message.role === "assistant") return Either.left(unsupported("an image in an assistant message"))
          parts.push(image(block))
          break
        case "tool_use":
          if (message.role !== "assistant") return Either.left(unsupported("a tool_use block in a user message"))
          calls.push({
            id: block.id,
            type: "function",
            function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) }
          })
          break
        case "tool_result": {
          if (message.role !== "user") return Either.left(unsupported("a tool_result block in an assistant message"))
          if (typeof block.content !== "string" && block.content.some((part) => part.type === "image")) {
            return Either.left(unsupported("an image in a tool result"))
          }
          const text = typeof block.content === "string"
            ? block.content
            : block.content.map((part) => part.type === "text" ? part.text : "").join("")
          // No is_error field: an error result says so in its text.
          out.push({ role: "tool", tool_call_id: block.toolUseId, content: block.isError ? `Error: ${text}` : text })
          break
        }
        case "thinking":
        case "redacted_thinking":
          return Either.left(unsupported(`a ${block.type} block (Chat Completions has no place for it)`))
      }
    }
    if (message.role === "assistant") {
      const text = parts.map((part) => (part as { text: string }).text).join("")
      if (calls.length > 0 || text !== "") {
        out.push({
          role: "assistant",
          content: text === "" ? null : text,
          ...(calls.length > 0 ? { tool_calls: calls } : {})
        })
      }
    } else if (parts.length > 0) out.push({ role: "user", content: parts })
  }
  return Either.right(out)
}

const unsupported = (what: string) => HttpModel.unsupported(provider, what)

// Events ---------------------------------------------------------------------

const finishReasons: Readonly<Record<string, CompletionModel.FinishReason>> = {
  stop: "stop",
  length: "max_tokens",
  tool_calls: "tool_use",
  function_call: "tool_use",
  content_filter: "content_filter"
}

const OptionalString = Schema.optional(Schema.NullOr(Schema.String))

const Chunk = HttpModel.decodeEvent(Schema.Struct({
  error: Schema.optional(Schema.Unknown),
  choices: Schema.optionalWith(
    Schema.Array(Schema.Struct({
      delta: Schema.optional(Schema.NullOr(Schema.Struct({
        content: OptionalString,
        // Not in OpenAI's own API; compatible servers (DeepSeek, vLLM, ...) stream reasoning here.
        reasoning_content: OptionalString,
        tool_calls: Schema.optional(Schema.NullOr(Schema.Array(Schema.Struct({
          index: Schema.Number,
          id: OptionalString,
          function: Schema.optional(Schema.NullOr(Schema.Struct({ name: OptionalString, arguments: OptionalString })))
        }))))
      }))),
      finish_reason: OptionalString
    })),
    { default: () => [] }
  ),
  usage: Schema.optional(Schema.NullOr(Schema.Struct({
    prompt_tokens: Schema.Number,
    completion_tokens: Schema.Number,
    prompt_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({
      cached_tokens: Schema.optional(Schema.NullOr(Schema.Number))
    }))),
    completion_tokens_details: Schema.optional(Schema.NullOr(Schema.Struct({
      reasoning_tokens: Schema.optional(Schema.NullOr(Schema.Number))
    })))
  })))
}))

const decoder = (context: HttpModel.DecoderContext): HttpModel.Decoder => {
  let usage: CompletionModel.Usage = { inputTokens: 0, outputTokens: 0 }
  let stopReason: string | undefined
  // Calls by their index in the choice; all of them end at the finish.
  const calls = HttpModel.toolCalls(context)
  return (event) => {
    if (event.data === "[DONE]") {
      return Either.map(calls.endAll(), (ended) => [
        ...ended,
        CompletionModel.StreamChunk.TurnFinished({
          reason: (stopReason && finishReasons[stopReason]) || "unknown",
          usage,
          ...(stopReason === undefined ? {} : { stopReason })
        })
      ])
    }
    return Either.flatMap(Chunk(context, event), (chunk) => {
      if (chunk.error !== undefined) {
        return Either.left(HttpClassification.fromErrorEvent({ ...context, data: event.data, errorTypes }))
      }
      if (chunk.usage) {
        const cached = chunk.usage.prompt_tokens_details?.cached_tokens
        const reasoning = chunk.usage.completion_tokens_details?.reasoning_tokens
        usage = {
          inputTokens: chunk.usage.prompt_tokens,
          outputTokens: chunk.usage.completion_tokens,
          ...(cached == null ? {} : { cacheReadTokens: cached }),
          ...(reasoning == null ? {} : { reasoningTokens: reasoning })
        }
      }
      const out: Array<CompletionModel.StreamChunk> = []
      const choice = chunk.choices[0]
      const delta = choice?.delta
      if (delta?.reasoning_content) {
        out.push(CompletionModel.StreamChunk.ThinkingDelta({ thinking: delta.reasoning_content }))
      }
      if (delta?.content) out.push(CompletionModel.StreamChunk.TextDelta({ text: delta.content }))
      for (const piece of delta?.tool_calls ?? []) {
        if (!calls.isOpen(piece.index)) {
          const started = calls.start(piece.index, piece.id ?? `call_${piece.index}`, piece.function?.name ?? "")
          if (Either.isLeft(started)) return started
          out.push(...started.right)
        }
        const args = calls.delta(piece.index, piece.function?.arguments)
        if (Either.isLeft(args)) return args
        out.push(...args.right)
      }
      if (choice?.finish_reason) {
        stopReason = choice.finish_reason
        return Either.map(calls.endAll(), (ended) => [...out, ...ended])
      }
      return Either.right(out)
    })
  }
}
