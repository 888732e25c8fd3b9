/**
 * A `CompletionModel` that plays a script, for tests of code that calls a model.
 *
 * Each call to `chatStream` plays the next turn of the script: a turn is
 * either a `ModelError` (the acquisition fails with it) or a list of chunks
 * and errors (the acquisition succeeds and the stream emits the chunks up to
 * the first error, which fails the stream). A call past the end of the script
 * is a defect: a test that calls more often than it scripted has a bug.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Stream } from "effect"
 * import { CompletionModel, RetryingModel } from "effect-retry-layer"
 * import { ScriptedModel } from "effect-retry-layer/testing"
 *
 * const Scripted = ScriptedModel.layer([
 *   ScriptedModel.rateLimited({ retryAfter: "50 millis" }),
 *   ScriptedModel.reply("Hello", " world")
 * ])
 * const TestModel = RetryingModel.layer().pipe(Layer.provideMerge(Scripted))
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as CompletionModel from "../CompletionModel.js"
import * as ModelError from "../core/ModelError.js"

/**
 * One scripted call: fail the acquisition, or stream these items in order.
 *
 * @category models
 * @since 0.1.0
 */
export type Turn = ModelError.ModelError | ReadonlyArray<CompletionModel.StreamChunk | ModelError.ModelError>

/**
 * A call the scripted model received.
 *
 * @category models
 * @since 0.1.0
 */
export interface Call {
  readonly request: CompletionModel.ChatRequest
  /** `Clock` time of the call in milliseconds (virtual time under `TestClock`). */
  readonly at: number
}

/**
 * What a test reads back from the scripted model.
 *
 * @category models
 * @since 0.1.0
 */
export interface Recorder {
  /** Every call so far, in order. */
  readonly calls: Effect.Effect<ReadonlyArray<Call>>
  /** How many calls so far. */
  readonly count: Effect.Effect<number>
}

/**
 * The tag under which {@link layer} provides the {@link Recorder}.
 *
 * @category tags
 * @since 0.1.0
 */
export class ScriptedModel extends Context.Tag("effect-retry-layer/testing/ScriptedModel")<ScriptedModel, Recorder>() {}

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly name?: string
  readonly model?: string
}

/**
 * Builds a scripted model and its recorder.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  script: ReadonlyArray<Turn>,
  options: Options = {}
): Effect.Effect<readonly [CompletionModel.Service, Recorder]> =>
  Effect.map(Ref.make<ReadonlyArray<Call>>([]), (ref) => {
    const service: CompletionModel.Service = {
      name: options.name ?? "scripted",
      model: options.model ?? "scripted-model",
      chatStream: (request) =>
        Effect.gen(function*() {
          const at = yield* Clock.currentTimeMillis
          const index = yield* Ref.modify(ref, (calls) => [calls.length, [...calls, { request, at }]] as const)
          const turn = script[index]
          if (turn === undefined) {
            return yield* Effect.dieMessage(
              `ScriptedModel: call ${index + 1} but the script has only ${script.length} turn(s)`
            )
          }
          return ModelError.isModelError(turn) ? yield* Effect.fail(turn) : play(turn)
        })
    }
    const recorder: Recorder = { calls: Ref.get(ref), count: Effect.map(Ref.get(ref), (calls) => calls.length) }
    return [service, recorder] as const
  })

/**
 * Provides the scripted `CompletionModel` and its {@link Recorder}.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const layer = (
  script: ReadonlyArray<Turn>,
  options?: Options
): Layer.Layer<CompletionModel.CompletionModel | ScriptedModel> =>
  Layer.effectContext(
    Effect.map(make(script, options), ([service, recorder]) =>
      Context.make(CompletionModel.CompletionModel, service).pipe(Context.add(ScriptedModel, recorder)))
  )

const play = (
  items: ReadonlyArray<CompletionModel.StreamChunk | ModelError.ModelError>
): Stream.Stream<CompletionModel.StreamChunk, ModelError.ModelError> =>
  Stream.mapEffect(
    Stream.fromIterable(items),
    (item) => ModelError.isModelError(item) ? Effect.fail(item) : Effect.succeed(item)
  )

// Scripted errors ----------------------------------------------------------

/**
 * @category models
 * @since 0.1.0
 */
export interface ErrorOptions {
  readonly retryAfter?: Duration.DurationInput
  readonly message?: string
}

const fields = (status: number, defaultMessage: string, options: ErrorOptions): ModelError.ModelErrorFields => ({
  provider: "scripted",
  status,
  message: options.message ?? defaultMessage,
  ...(options.retryAfter === undefined ? {} : { retryAfter: Duration.decode(options.retryAfter) })
})

/**
 * A transient failure: a 503 `ServerError`, with a `retryAfter` hint if given.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const serverError = (options: ErrorOptions = {}): ModelError.ModelError =>
  new ModelError.ServerError(fields(503, "scripted transient failure", options))

/**
 * A 429 `RateLimitError`, with a `retryAfter` hint if given.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const rateLimited = (options: ErrorOptions = {}): ModelError.ModelError =>
  new ModelError.RateLimitError(fields(429, "scripted rate limit", options))

/**
 * A 529 `OverloadedError`, with a `retryAfter` hint if given.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const overloaded = (options: ErrorOptions = {}): ModelError.ModelError =>
  new ModelError.OverloadedError(fields(529, "scripted overload", options))

/**
 * A permanent failure: a 400 `InvalidRequestError`.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const invalidRequest = (options: Omit<ErrorOptions, "retryAfter"> = {}): ModelError.ModelError =>
  new ModelError.InvalidRequestError(fields(400, "scripted permanent failure", options))

// Scripted replies ---------------------------------------------------------

/**
 * A complete reply: one `TextDelta` per piece, then `TurnFinished` with reason
 * `"stop"` and an output token count of one per piece.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const reply = (...pieces: ReadonlyArray<string>): ReadonlyArray<CompletionModel.StreamChunk> => [
  ...pieces.map((text) => CompletionModel.StreamChunk.TextDelta({ text })),
  CompletionModel.StreamChunk.TurnFinished({
    reason: "stop",
    usage: { inputTokens: 0, outputTokens: pieces.length }
  })
]

/**
 * A tool call as a provider streams it: `ToolCallStart`, the arguments' JSON
 * in one `ToolCallDelta`, `ToolCallEnd` with the arguments.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const toolCall = (
  id: string,
  name: string,
  args: unknown
): ReadonlyArray<CompletionModel.StreamChunk> => [
  CompletionModel.StreamChunk.ToolCallStart({ id, name }),
  CompletionModel.StreamChunk.ToolCallDelta({ id, argumentsDelta: JSON.stringify(args) }),
  CompletionModel.StreamChunk.ToolCallEnd({ id, name, arguments: args })
]

/**
 * A complete tool turn: optional thinking, then the calls, then
 * `TurnFinished` with reason `"tool_use"`.
 *
 * @example
 * ```ts
 * import { ScriptedModel } from "effect-retry-layer/testing"
 *
 * const turn = ScriptedModel.toolUse([ScriptedModel.toolCall("call_1", "get_weather", { location: "Paris" })], {
 *   thinking: "The user wants the weather."
 * })
 * ```
 *
 * @category fixtures
 * @since 0.1.0
 */
export const toolUse = (
  calls: ReadonlyArray<ReadonlyArray<CompletionModel.StreamChunk>>,
  options: { readonly thinking?: string; readonly signature?: string } = {}
): ReadonlyArray<CompletionModel.StreamChunk> => [
  ...(options.thinking === undefined ? [] : [
    CompletionModel.StreamChunk.ThinkingDelta({ thinking: options.thinking }),
    CompletionModel.StreamChunk.ThinkingSignature({ signature: options.signature ?? "scripted-signature" })
  ]),
  ...calls.flat(),
  CompletionModel.StreamChunk.TurnFinished({
    reason: "tool_use",
    stopReason: "tool_use",
    usage: { inputTokens: 0, outputTokens: calls.length }
  })
]
