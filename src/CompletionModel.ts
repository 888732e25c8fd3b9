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
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Stream from "effect/Stream"
import type { ChatRequest, StreamChunk } from "./core/Chat.js"
import type { ModelError } from "./core/ModelError.js"

/**
 * The request, its content and the chunks of its answer (the shared chat model).
 *
 * @since 0.1.0
 */
export * from "./core/Chat.js"

/**
 * What a model adapter implements.
 *
 * @category models
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
 * @category tags
 * @since 0.1.0
 */
export class CompletionModel extends Context.Tag(
  // the key is what "Service not found" prints: it says what to provide
  "effect-retry-layer/CompletionModel (provide a model: Anthropic.layer, OpenAI.layer, Bedrock.layer, or ScriptedModel.layer in tests)"
)<CompletionModel, Service>() {}

/**
 * The same model with `f` around the acquisition of every call: how the fleet
 * pieces (which wrap any acquisition) decorate a model.
 *
 * @category combinators
 * @since 0.1.0
 */
export const mapAcquisition: {
  (
    f: (
      acquire: Effect.Effect<Stream.Stream<StreamChunk, ModelError>, ModelError>
    ) => Effect.Effect<Stream.Stream<StreamChunk, ModelError>, ModelError>
  ): (self: Service) => Service
  (
    self: Service,
    f: (
      acquire: Effect.Effect<Stream.Stream<StreamChunk, ModelError>, ModelError>
    ) => Effect.Effect<Stream.Stream<StreamChunk, ModelError>, ModelError>
  ): Service
} = dual(2, (
  self: Service,
  f: (
    acquire: Effect.Effect<Stream.Stream<StreamChunk, ModelError>, ModelError>
  ) => Effect.Effect<Stream.Stream<StreamChunk, ModelError>, ModelError>
): Service => ({
  name: self.name,
  model: self.model,
  chatStream: (request) => f(self.chatStream(request))
}))
