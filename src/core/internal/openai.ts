/**
 * OpenAI's Chat Completions API (and Azure OpenAI's, and any compatible server's) with `stream: true`, without
 * Effect: the request, and its events as chunks.
 */
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { DurationInput } from "../../internal/compat.js"
import * as Chat from "../Chat.js"
import * as HttpClassification from "../HttpClassification.js"
import * as ErrorTypes from "./errorTypes.js"
import * as Wire from "./wire.js"

/**
 * Settings shared by OpenAI and Azure OpenAI.
 *
 * @category models
 * @since 0.1.0
 */
export interface CommonOptions {
  readonly apiKey: Redacted.Redacted
  /** Limit on sending a request and receiving its status. Default 10 minutes, as in OpenAI's SDK. */
  readonly timeout?: DurationInput
  /** Limit on the wait for each piece of an open stream. Default 5 minutes. */
  readonly idleTimeout?: DurationInput
  /**
   * Limit on the time an open stream goes without content (text, thinking, a tool call, the turn's end):
   * comments and pings keep a connection open but do not count. Default 10 minutes.
   */
  readonly contentTimeout?: DurationInput
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

const provider = "openai"

/** The adapter for OpenAI; throws `InvalidOptions` for a bad base URL, or a key not `Redacted`. */
export const adapter = (options: Options): Wire.Adapter =>
  adapterWith(options, {
    model: options.model,
    url: new URL("chat/completions", Wire.baseUrl("OpenAI", options.baseUrl ?? "https://api.openai.com/v1")),
    headers: {
      authorization: `Bearer ${Redacted.value(Wire.credential("OpenAI", "apiKey", options.apiKey))}`,
      ...(options.organization === undefined ? {} : { "openai-organization": options.organization }),
      ...(options.project === undefined ? {} : { "openai-project": options.project })
    },
    secretHeaders: []
  })

/**
 * The adapter for an Azure OpenAI deployment: `{endpoint}/openai/deployments/{deployment}/chat/completions?
 * api-version=...` with the key in the `api-key` header. Throws `InvalidOptions` for a bad endpoint or key.
 */
export const azureAdapter = (options: AzureOptions): Wire.Adapter => {
  const url = new URL(
    `openai/deployments/${encodeURIComponent(options.deployment)}/chat/completions`,
    Wire.baseUrl("Azure OpenAI", options.endpoint, "endpoint")
  )
  url.searchParams.set("api-version", options.apiVersion ?? "2024-10-21")
  return adapterWith(options, {
    model: options.deployment,
    url,
    headers: { "api-key": Redacted.value(Wire.credential("Azure OpenAI", "apiKey", options.apiKey)) },
    secretHeaders: ["api-key"]
  })
}

const adapterWith = (
  options: CommonOptions,
  target: {
    readonly model: string
    readonly url: URL
    readonly headers: Readonly<Record<string, string>>
    readonly secretHeaders: ReadonlyArray<string>
  }
): Wire.Adapter => ({
  provider,
  model: target.model,
  errorTypes: ErrorTypes.openai,
  secretHeaders: target.secretHeaders,
  secrets: [options.apiKey],
  request: (request) =>
    Wire.map(messages(request), (wire) => ({
      url: target.url,
      headers: { ...target.headers, accept: "text/event-stream" },
      body: JSON.stringify({
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
    })),
  decoder
})

// Requests -------------------------------------------------------------------

const toolChoice = (choice: Chat.ToolChoice): unknown =>
  choice === "any"
    ? "required"
    : typeof choice === "string"
    ? choice
    : { type: "function", function: { name: choice.tool } }

const image = (block: Chat.ImageBlock) => ({
  type: "image_url",
  image_url: { url: `data:${block.mediaType};base64,${block.data}` }
})

// Chat Completions messages: a user message's tool results become `tool` messages of their own (before the rest
// of it), an assistant's tool calls its `tool_calls`. What the API has no place for is refused, not dropped.
const messages = (request: Chat.ChatRequest): Wire.Decoded<Array<unknown>> => {
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
          if (message.role === "assistant") return (unsupported("an image in an assistant message"))
          parts.push(image(block))
          break
        case "tool_use":
          if (message.role !== "assistant") return (unsupported("a tool_use block in a user message"))
          calls.push({
            id: block.id,
            type: "function",
            function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) }
          })
          break
        case "tool_result": {
          if (message.role !== "user") return (unsupported("a tool_result block in an assistant message"))
          if (typeof block.content !== "string" && block.content.some((part) => part.type === "image")) {
            return (unsupported("an image in a tool result"))
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
          return (unsupported(`a ${block.type} block (Chat Completions has no place for it)`))
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
  return out
}

const unsupported = (what: string) => Wire.unsupported(provider, what)

// Events ---------------------------------------------------------------------

const finishReasons: Readonly<Record<string, Chat.FinishReason>> = {
  stop: "stop",
  length: "max_tokens",
  tool_calls: "tool_use",
  function_call: "tool_use",
  content_filter: "content_filter"
}

const OptionalString = Schema.optional(Schema.NullOr(Schema.String))

const Chunk = Wire.decodeEvent(Schema.Struct({
  error: Schema.optional(Schema.Unknown),
  choices: Schema.optional(
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
    }))
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

const decoder = (context: Wire.DecoderContext): Wire.Decoder => {
  let usage: Chat.Usage = { inputTokens: 0, outputTokens: 0 }
  let stopReason: string | undefined
  // Calls by their index in the choice; all of them end at the finish.
  const calls = Wire.toolCalls(context)
  return (event) => {
    if (event.data === "[DONE]") {
      return Wire.map(calls.endAll(), (ended) => [
        ...ended,
        Chat.StreamChunk.TurnFinished({
          reason: (stopReason && finishReasons[stopReason]) || "unknown",
          usage,
          ...(stopReason === undefined ? {} : { stopReason })
        })
      ])
    }
    return Wire.flatMap(Chunk(context, event), (chunk) => {
      if (chunk.error !== undefined) {
        return HttpClassification.fromErrorEvent({ ...context, data: event.data, errorTypes: ErrorTypes.openai })
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
      const out: Array<Chat.StreamChunk> = []
      const choice = chunk.choices?.[0]
      const delta = choice?.delta
      if (delta?.reasoning_content) {
        out.push(Chat.StreamChunk.ThinkingDelta({ thinking: delta.reasoning_content }))
      }
      if (delta?.content) out.push(Chat.StreamChunk.TextDelta({ text: delta.content }))
      for (const piece of delta?.tool_calls ?? []) {
        if (!calls.isOpen(piece.index)) {
          const started = calls.start(piece.index, piece.id ?? `call_${piece.index}`, piece.function?.name ?? "")
          if (Wire.isFailure(started)) return started
          out.push(...started)
        }
        const args = calls.delta(piece.index, piece.function?.arguments)
        if (Wire.isFailure(args)) return args
        out.push(...args)
      }
      if (choice?.finish_reason) {
        stopReason = choice.finish_reason
        return Wire.map(calls.endAll(), (ended) => [...out, ...ended])
      }
      return out
    })
  }
}
