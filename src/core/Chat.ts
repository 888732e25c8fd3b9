/**
 * The provider-neutral chat: a request (messages, content blocks, tools) and
 * the chunks of its answer. Every adapter maps its provider's wire onto these,
 * on both Effect lines; the Effect 3 line's `CompletionModel` re-exports them.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import type * as RateLimitHeaders from "./RateLimitHeaders.js"

/**
 * A message: plain text, or content blocks (text, images, tool calls the
 * model made, tool results, and the model's thinking, to send back with a
 * tool turn).
 *
 * @category models
 * @since 0.1.0
 */
export interface Message {
  readonly role: "user" | "assistant"
  readonly content: string | ReadonlyArray<ContentBlock>
}

/**
 * One block of a message's content.
 *
 * - `text`; `image` (base64 `data` of `mediaType`, e.g. `"image/png"`).
 * - `tool_use`: a call the model made (from a `ToolCallEnd`), sent back in an
 *   assistant message; `tool_result`: its answer, in the next user message.
 * - `thinking` (with its `signature`) and `redacted_thinking`: the model's
 *   reasoning, which Anthropic wants back unchanged in a tool turn.
 *
 * An adapter refuses, with an `InvalidRequestError` before sending, a block
 * its provider cannot take (OpenAI: thinking, images from the assistant or in
 * a tool result); nothing is dropped in silence.
 *
 * @category models
 * @since 0.1.0
 */
export type ContentBlock =
  | { readonly type: "text"; readonly text: string }
  | { readonly type: "image"; readonly mediaType: string; readonly data: string }
  | { readonly type: "tool_use"; readonly id: string; readonly name: string; readonly input: unknown }
  | {
    readonly type: "tool_result"
    readonly toolUseId: string
    readonly content: string | ReadonlyArray<TextBlock | ImageBlock>
    readonly isError?: boolean
  }
  | { readonly type: "thinking"; readonly thinking: string; readonly signature: string }
  | { readonly type: "redacted_thinking"; readonly data: string }

/**
 * @category models
 * @since 0.1.0
 */
export type TextBlock = Extract<ContentBlock, { readonly type: "text" }>

/**
 * @category models
 * @since 0.1.0
 */
export type ImageBlock = Extract<ContentBlock, { readonly type: "image" }>

/**
 * A tool the model may call: its name, what it does, and its input as a JSON
 * Schema object.
 *
 * @category models
 * @since 0.1.0
 */
export interface Tool {
  readonly name: string
  readonly description?: string
  readonly inputSchema: Readonly<Record<string, unknown>>
}

/**
 * Whether the model must call a tool: `"auto"` (it decides), `"any"` (some
 * tool), `"none"`, or `{ tool }` (that one).
 *
 * @category models
 * @since 0.1.0
 */
export type ToolChoice = "auto" | "any" | "none" | { readonly tool: string }

/**
 * A provider-neutral chat request.
 *
 * @category models
 * @since 0.1.0
 */
export interface ChatRequest {
  readonly messages: ReadonlyArray<Message>
  readonly system?: string
  /** Upper bound on generated tokens; adapters apply their own default when absent. */
  readonly maxTokens?: number
  readonly temperature?: number
  readonly stopSequences?: ReadonlyArray<string>
  readonly tools?: ReadonlyArray<Tool>
  readonly toolChoice?: ToolChoice
}

/**
 * Why the model stopped, normalised across providers.
 *
 * @category models
 * @since 0.1.0
 */
export type FinishReason = "stop" | "max_tokens" | "stop_sequence" | "tool_use" | "content_filter" | "unknown"

/**
 * Tokens of a turn: input and output always; what a provider reports besides
 * (cache reads and writes, reasoning) when it does.
 *
 * @category models
 * @since 0.1.0
 */
export interface Usage {
  readonly inputTokens: number
  readonly outputTokens: number
  /** Input tokens read from the provider's prompt cache. */
  readonly cacheReadTokens?: number
  /** Input tokens written to the provider's prompt cache. */
  readonly cacheWriteTokens?: number
  /** Output tokens spent on reasoning (OpenAI's reasoning models). */
  readonly reasoningTokens?: number
}

/**
 * One item of a response stream.
 *
 * - `TextDelta`: the next piece of generated text.
 * - `ThinkingDelta`, `ThinkingSignature`: the model's visible reasoning and
 *   the signature that makes it valid to send back; `RedactedThinking`:
 *   reasoning the provider encrypted, to send back as it is.
 * - `ToolCallStart` (id and name), `ToolCallDelta` (the next piece of the
 *   arguments' JSON), `ToolCallEnd` (the arguments parsed): a tool call, which
 *   several may interleave (parallel calls), told apart by `id`.
 * - `TurnFinished`: the model finished its turn; always the last chunk of a
 *   complete response, with the normalised reason, the provider's own
 *   (`stopReason`, e.g. `"end_turn"`, `"tool_calls"`) and the usage.
 *
 * @category models
 * @since 0.1.0
 */
export type StreamChunk = Data.TaggedEnum<{
  TextDelta: { readonly text: string }
  ThinkingDelta: { readonly thinking: string }
  ThinkingSignature: { readonly signature: string }
  RedactedThinking: { readonly data: string }
  ToolCallStart: { readonly id: string; readonly name: string }
  ToolCallDelta: { readonly id: string; readonly argumentsDelta: string }
  ToolCallEnd: { readonly id: string; readonly name: string; readonly arguments: unknown }
  TurnFinished: {
    readonly reason: FinishReason
    readonly usage: Usage
    readonly stopReason?: string
    /** The provider's rate-limit headers on this response, where it sent them. */
    readonly rateLimit?: RateLimitHeaders.RateLimitState
  }
}>

/**
 * Constructors, guards and `$match` for {@link StreamChunk}.
 *
 * @category models
 * @since 0.1.0
 */
export const StreamChunk = Data.taggedEnum<StreamChunk>()
