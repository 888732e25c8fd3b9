/**
 * The shape every policy over one attempt of a call shares (the circuit breaker and the adaptive rate limiter),
 * the call they apply to, and one `compose` that builds the recommended stack from them. A call is its
 * acquisition (`run`), its size (what the model reads and the most it may write: the limiter's cost) and its
 * usage, settled when the turn ends (`settle(usage)`) or given back (`settle()`).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type * as Chat from "./Chat.js"
import { settleOnce } from "./internal/providerQuota.js"
import type * as ModelError from "./ModelError.js"

/**
 * What a turn used, as far as the provider said (a count left out stays as
 * it was charged).
 *
 * @category models
 * @since 0.1.0
 */
export interface Usage {
  readonly inputTokens?: number | undefined
  readonly outputTokens?: number | undefined
  /** Input tokens written to the provider's prompt cache: counted as input, as providers count them. */
  readonly cacheWriteTokens?: number | undefined
}

/**
 * Settles an attempt: with the turn's usage when it ends, or with nothing to
 * give back all it was charged (a failure, an abandoned stream). Only the
 * first settlement of an attempt counts.
 *
 * @category models
 * @since 0.1.0
 */
export type Settle = (usage?: Usage) => Effect.Effect<void>

/**
 * One attempt of a call, as a policy sees it.
 *
 * @category models
 * @since 0.1.0
 */
export interface Call<A, E, R> {
  /**
   * The request's size: the characters the model reads and the output tokens the request allows (the
   * `maxTokens` sent; `undefined` when it sets none). Without a size the call costs one send and nothing of the
   * provider's token limits.
   */
  readonly size?: { readonly chars: number; readonly maxTokens: number | undefined } | undefined
  /** The acquisition; it calls `settle` when the turn ends (after it returned, for a stream). */
  readonly run: (settle: Settle) => Effect.Effect<A, E, R>
}

/**
 * How a policy fails an attempt it does not let through (nothing is sent): an open circuit, or a call that
 * could not be answered before its deadline.
 *
 * @category models
 * @since 0.1.0
 */
export type Refusal = ModelError.CircuitOpenError | ModelError.DeadlineError

/**
 * A policy over attempts: `applyCall` runs one attempt under it.
 * `settles` says whether it charges what a call uses (then a stream is
 * watched for the end of its turn).
 *
 * @category models
 * @since 0.1.0
 */
export interface Policy {
  readonly applyCall: <A, E, R>(call: Call<A, E, R>) => Effect.Effect<A, E | Refusal, R>
  readonly settles: boolean
}

/**
 * The policies in one, the first outermost: `compose(breaker, limiter)` is
 * the breaker around the limiter around the attempt. Each policy's `settle`
 * hears the attempt's usage. With no policy, the attempt as it is.
 *
 * @category combinators
 * @since 0.1.0
 */
export const compose = (...policies: ReadonlyArray<Policy>): Policy =>
  policies.reduceRight<Policy>((inner, outer) => ({
    settles: outer.settles || inner.settles,
    applyCall: (call) =>
      outer.applyCall({
        size: call.size,
        run: (outerSettle) =>
          inner.applyCall({
            size: call.size,
            run: (innerSettle) =>
              call.run(
                !outer.settles ?
                  innerSettle :
                  !inner.settles ?
                  outerSettle :
                  (usage) => Effect.andThen(outerSettle(usage), innerSettle(usage))
              )
          })
      })
  }), identity)

/**
 * A chat call whose every attempt goes through `policy`: each stream's
 * acquisition is one attempt, sized by its request, settled by its turn's
 * `TurnFinished` usage (or given back if the stream ends before it).
 *
 * @category combinators
 * @since 0.1.0
 */
export const guardChat = <E, R>(
  policy: Policy,
  chatStream: (request: Chat.ChatRequest) => Effect.Effect<Stream.Stream<Chat.StreamChunk, E>, E, R>
) =>
(request: Chat.ChatRequest): Effect.Effect<Stream.Stream<Chat.StreamChunk, E>, E | Refusal, R> =>
  policy.applyCall({
    size: { chars: requestChars(request), maxTokens: request.maxTokens },
    run: (settle) =>
      policy.settles
        ? Effect.map(chatStream(request), (stream) =>
          settleOnce(
            stream,
            (chunk) => chunk._tag === "TurnFinished" ? settle(chunk.usage) : undefined,
            settle()
          ))
        : chatStream(request)
  })

/**
 * A request's size in characters: the text the model reads, tool
 * definitions and arguments included; an image counts as what a large one
 * costs (about 1,600 tokens at Anthropic's rate).
 *
 * @category costs
 * @since 0.1.0
 */
export const requestChars = (request: Chat.ChatRequest): number => {
  const image = 1600 * 3
  const blocks = (content: Chat.Message["content"] | Chat.ContentBlock): number => {
    if (typeof content === "string") return content.length
    if (Array.isArray(content)) {
      return (content as ReadonlyArray<Chat.ContentBlock>).reduce((n, b) => n + blocks(b), 0)
    }
    const block = content as Chat.ContentBlock
    switch (block.type) {
      case "text":
        return block.text.length
      case "image":
        return image
      case "tool_use":
        return block.name.length + (JSON.stringify(block.input) ?? "").length
      case "tool_result":
        return blocks(block.content as Chat.Message["content"])
      case "thinking":
        return block.thinking.length
      case "redacted_thinking":
        return block.data.length
    }
  }
  return (request.system?.length ?? 0) +
    request.messages.reduce((n, message) => n + blocks(message.content), 0) +
    (request.tools === undefined ? 0 : JSON.stringify(request.tools).length)
}

const identity: Policy = { settles: false, applyCall: (call) => call.run(() => Effect.void) }
