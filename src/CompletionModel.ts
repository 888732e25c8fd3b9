/**
 * The model service every layer in this library provides, decorates or requires.
 *
 * `chatStream(request)` is an *acquisition*: the effect sends the request,
 * checks the status and opens the response stream; its success is the stream
 * of chunks. Retry layers retry the acquisition only. Once the stream is
 * handed back it belongs to the caller, and an error inside it is the
 * caller's to see.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { CompletionModel } from "effect-retry-layer"
 *
 * const program = Effect.gen(function*() {
 *   const model = yield* CompletionModel.CompletionModel
 *   const stream = yield* model.chatStream({ messages: [{ role: "user", content: "Hi" }] })
 *   return yield* stream.pipe(Stream.runForEach((chunk) => Effect.log(chunk)))
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"
import type { ModelError } from "./ModelError.js"

/**
 * @since 0.1.0
 */
export interface Message {
  readonly role: "user" | "assistant"
  readonly content: string
}

/**
 * A provider-neutral chat request.
 *
 * @since 0.1.0
 */
export interface ChatRequest {
  readonly messages: ReadonlyArray<Message>
  readonly system?: string
  /** Upper bound on generated tokens; adapters apply their own default when absent. */
  readonly maxTokens?: number
  readonly temperature?: number
  readonly stopSequences?: ReadonlyArray<string>
}

/**
 * Why the model stopped, normalised across providers.
 *
 * @since 0.1.0
 */
export type FinishReason = "stop" | "max_tokens" | "stop_sequence" | "tool_use" | "content_filter" | "unknown"

/**
 * @since 0.1.0
 */
export interface Usage {
  readonly inputTokens: number
  readonly outputTokens: number
}

/**
 * One item of a response stream.
 *
 * - `TextDelta`: the next piece of generated text.
 * - `TurnFinished`: the model finished its turn; always the last chunk of a
 *   complete response.
 *
 * @since 0.1.0
 */
export type StreamChunk = Data.TaggedEnum<{
  TextDelta: { readonly text: string }
  TurnFinished: { readonly reason: FinishReason; readonly usage: Usage }
}>

/**
 * Constructors, guards and `$match` for {@link StreamChunk}.
 *
 * @since 0.1.0
 */
export const StreamChunk = Data.taggedEnum<StreamChunk>()

/**
 * What a model adapter implements.
 *
 * @since 0.1.0
 */
export interface Service {
  /** The adapter, e.g. `"anthropic"`. */
  readonly name: string
  /** The model the adapter calls, e.g. `"claude-sonnet-4-5"`. */
  readonly model: string
  readonly chatStream: (request: ChatRequest) => Effect.Effect<Stream.Stream<StreamChunk, ModelError>, ModelError>
}

/**
 * The service tag.
 *
 * @since 0.1.0
 */
export class CompletionModel extends Context.Tag("effect-retry-layer/CompletionModel")<CompletionModel, Service>() {}

/**
 * The same model with `f` around the acquisition of every call: how the fleet
 * pieces (which wrap any acquisition) decorate a model.
 *
 * @since 0.2.0
 */
export const mapAcquisition = (
  self: Service,
  f: (
    acquire: Effect.Effect<Stream.Stream<StreamChunk, ModelError>, ModelError>
  ) => Effect.Effect<Stream.Stream<StreamChunk, ModelError>, ModelError>
): Service => ({
  name: self.name,
  model: self.model,
  chatStream: (request) => f(self.chatStream(request))
})
