/**
 * Anthropic's Messages API with `stream: true`, without Effect: the request, and its events as chunks.
 */
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { DurationInput } from "../../internal/compat.js"
import * as Chat from "../Chat.js"
import * as HttpClassification from "../HttpClassification.js"
import * as ErrorTypes from "./errorTypes.js"
import { defaultMaxTokens } from "./tokens.js"
import * as Wire from "./wire.js"

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
  readonly timeout?: DurationInput
  /** Limit on the wait for each piece of an open stream. Default 5 minutes. */
  readonly idleTimeout?: DurationInput
  /**
   * Limit on the time an open stream goes without content (text, thinking, a tool call, the turn's end):
   * comments and pings keep a connection open but do not count. Default 10 minutes.
   */
  readonly contentTimeout?: DurationInput
}

/** The adapter; throws `InvalidOptions` for a base URL that is not absolute http(s), or a key not `Redacted`. */
export const adapter = (options: Options): Wire.Adapter => {
  const url = new URL("v1/messages", Wire.baseUrl("Anthropic", options.baseUrl ?? "https://api.anthropic.com"))
  const headers = {
    "x-api-key": Redacted.value(Wire.credential("Anthropic", "apiKey", options.apiKey)),
    "anthropic-version": options.version ?? "2023-06-01",
    accept: "text/event-stream"
  }
  return {
    provider: "anthropic",
    model: options.model,
    errorTypes: ErrorTypes.anthropic,
    secretHeaders: ["x-api-key"],
    secrets: [options.apiKey],
    // Anthropic takes every block and tool choice there is, so nothing is refused here.
    request: (request) => ({
      url,
      headers,
      body: JSON.stringify({
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
    }),
    decoder
  }
}

// Requests -------------------------------------------------------------------

// A content block in the Messages API's shape.
const block = (content: Chat.ContentBlock): unknown => {
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

const image = (content: Chat.ImageBlock) => ({
  type: "image",
  source: { type: "base64", media_type: content.mediaType, data: content.data }
})

// Events ---------------------------------------------------------------------

const stopReasons: Readonly<Record<string, Chat.FinishReason>> = {
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

const MessageStart = Wire.decodeEvent(Schema.Struct({ message: Schema.Struct({ usage: UsageFields }) }))

const ContentBlockStart = Wire.decodeEvent(Schema.Struct({
  index: Schema.Number,
  content_block: Schema.Struct({
    type: Schema.String,
    id: Schema.optional(Schema.String),
    name: Schema.optional(Schema.String),
    data: Schema.optional(Schema.String)
  })
}))

const ContentBlockDelta = Wire.decodeEvent(Schema.Struct({
  index: Schema.Number,
  delta: Schema.Struct({
    type: Schema.String,
    text: Schema.optional(Schema.String),
    thinking: Schema.optional(Schema.String),
    signature: Schema.optional(Schema.String),
    partial_json: Schema.optional(Schema.String)
  })
}))

const ContentBlockStop = Wire.decodeEvent(Schema.Struct({ index: Schema.Number }))

const MessageDelta = Wire.decodeEvent(Schema.Struct({
  delta: Schema.Struct({ stop_reason: Schema.optional(Schema.NullOr(Schema.String)) }),
  usage: Schema.optional(UsageFields)
}))

const decoder = (context: Wire.DecoderContext): Wire.Decoder => {
  const usage = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }
  let sawCache = false
  let stopReason: string | undefined
  const calls = Wire.toolCalls(context)
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
        return Wire.map(MessageStart(context, event), ({ message }) => {
          count(message.usage)
          return Wire.none
        })
      case "content_block_start":
        return Wire.flatMap(ContentBlockStart(context, event), ({ content_block: block, index }) => {
          if (block.type === "tool_use") return calls.start(index, block.id ?? `call_${index}`, block.name ?? "")
          if (block.type === "redacted_thinking" && block.data !== undefined) {
            return [Chat.StreamChunk.RedactedThinking({ data: block.data })]
          }
          return Wire.none
        })
      case "content_block_delta":
        return Wire.flatMap(ContentBlockDelta(context, event), ({ delta, index }) => {
          switch (delta.type) {
            case "text_delta":
              return delta.text ? [Chat.StreamChunk.TextDelta({ text: delta.text })] : Wire.none
            case "thinking_delta":
              return delta.thinking ? [Chat.StreamChunk.ThinkingDelta({ thinking: delta.thinking })] : Wire.none
            case "signature_delta":
              return delta.signature ? [Chat.StreamChunk.ThinkingSignature({ signature: delta.signature })] : Wire.none
            case "input_json_delta":
              return calls.delta(index, delta.partial_json)
          }
          // citations and delta types added after this was written
          return Wire.none
        })
      case "content_block_stop":
        return Wire.flatMap(ContentBlockStop(context, event), ({ index }) => calls.end(index))
      case "message_delta":
        return Wire.map(MessageDelta(context, event), ({ delta, usage: fields }) => {
          if (delta.stop_reason) stopReason = delta.stop_reason
          if (fields !== undefined) count(fields)
          return Wire.none
        })
      case "message_stop":
        return [
          Chat.StreamChunk.TurnFinished({
            reason: (stopReason && stopReasons[stopReason]) || "unknown",
            usage: sawCache
              ? { ...usage }
              : { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens },
            ...(stopReason === undefined ? {} : { stopReason })
          })
        ]
      case "error":
        return HttpClassification.fromErrorEvent({ ...context, data: event.data, errorTypes: ErrorTypes.anthropic })
      default:
        // ping and event types added after this was written
        return Wire.none
    }
  }
}
