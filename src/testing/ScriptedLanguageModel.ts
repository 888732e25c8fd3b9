/**
 * An `@effect/ai` `LanguageModel` that plays a script, for deterministic
 * tests (in virtual time, with `TestClock`) of code that calls a model
 * through `@effect/ai`, with or without `RetryingLanguageModel`.
 *
 * Each call (`generateText`, `generateObject` or `streamText`) plays the next
 * turn: an `AiError` fails the call (a `streamText` before its first part); a
 * list of stream parts and `AiError`s is streamed up to the first error, which
 * fails the stream, or, for `generateText` / `generateObject`, assembled into
 * the complete answer (text deltas joined, start and end parts dropped; an
 * `AiError` anywhere in it fails the call; an `error` part, which providers
 * send only in a stream, is a defect there). A call past the end of the script
 * is a defect: a test that calls more often than it scripted has a bug.
 *
 * @example
 * ```ts
 * import { LanguageModel } from "@effect/ai"
 * import { Effect, Layer } from "effect"
 * import { RetryingLanguageModel } from "effect-retry-layer/ai"
 * import { ScriptedLanguageModel } from "effect-retry-layer/testing/ai"
 *
 * const Scripted = ScriptedLanguageModel.layer([
 *   ScriptedLanguageModel.rateLimited({ retryAfter: "2 seconds" }),
 *   ScriptedLanguageModel.reply("Hello")
 * ])
 * const Model = RetryingLanguageModel.layer().pipe(Layer.provideMerge(Scripted))
 * const program = LanguageModel.generateText({ prompt: "Hi" }).pipe(Effect.provide(Model))
 * ```
 *
 * @since 0.1.0
 */
import * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Prompt from "@effect/ai/Prompt"
import type * as Response from "@effect/ai/Response"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"

/**
 * One scripted call: fail it, or answer with these parts (an `AiError` among
 * them fails a stream where it stands).
 *
 * @category models
 * @since 0.1.0
 */
export type Turn = AiError.AiError | ReadonlyArray<Response.StreamPartEncoded | AiError.AiError>

/**
 * A call the scripted model received.
 *
 * @category models
 * @since 0.1.0
 */
export interface Call {
  readonly method: "generateText" | "streamText"
  readonly prompt: Prompt.Prompt
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
  /** Every call so far, in order (`generateObject` is a `generateText` asking for JSON). */
  readonly calls: Effect.Effect<ReadonlyArray<Call>>
  readonly count: Effect.Effect<number>
}

/**
 * The tag under which {@link layer} provides the {@link Recorder}.
 *
 * @category tags
 * @since 0.1.0
 */
export class ScriptedLanguageModel
  extends Context.Tag("effect-retry-layer/testing/ScriptedLanguageModel")<ScriptedLanguageModel, Recorder>()
{}

/**
 * Builds a scripted `LanguageModel` and its recorder.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (script: ReadonlyArray<Turn>): Effect.Effect<readonly [LanguageModel.Service, Recorder]> =>
  Effect.gen(function*() {
    const ref = yield* Ref.make<ReadonlyArray<Call>>([])
    const next = (method: Call["method"], prompt: Prompt.Prompt) =>
      Effect.gen(function*() {
        const at = yield* Clock.currentTimeMillis
        const index = yield* Ref.modify(ref, (calls) => [calls.length, [...calls, { method, prompt, at }]] as const)
        const turn = script[index]
        if (turn === undefined) {
          return yield* Effect.dieMessage(
            `ScriptedLanguageModel: call ${index + 1} but the script has only ${script.length} turn(s)`
          )
        }
        return turn
      })
    const service = yield* LanguageModel.make({
      generateText: (options) =>
        Effect.flatMap(next("generateText", options.prompt), (turn) => {
          if (isAiError(turn)) return Effect.fail(turn)
          if (turn.some((part) => !isAiError(part) && part.type === "error")) {
            return Effect.dieMessage(
              "ScriptedLanguageModel: an error part is sent only in a stream; script an AiError for generateText"
            )
          }
          const error = turn.find(isAiError)
          return error === undefined ?
            Effect.succeed(assemble(turn as ReadonlyArray<Response.StreamPartEncoded>)) :
            Effect.fail(error)
        }),
      streamText: (options) =>
        Stream.unwrap(
          Effect.map(next("streamText", options.prompt), (turn) =>
            isAiError(turn) ? Stream.fail(turn) : Stream.mapEffect(
              Stream.fromIterable(turn),
              (part) => isAiError(part) ? Effect.fail(part) : Effect.succeed(part)
            ))
        )
    })
    const recorder: Recorder = { calls: Ref.get(ref), count: Effect.map(Ref.get(ref), (calls) => calls.length) }
    return [service, recorder] as const
  })

/**
 * Provides the scripted `LanguageModel` and its {@link Recorder}.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const layer = (script: ReadonlyArray<Turn>): Layer.Layer<LanguageModel.LanguageModel | ScriptedLanguageModel> =>
  Layer.effectContext(
    Effect.map(
      make(script),
      ([service, recorder]) =>
        Context.make(LanguageModel.LanguageModel, service).pipe(Context.add(ScriptedLanguageModel, recorder))
    )
  )

// Scripted failures -----------------------------------------------------------

/**
 * @category models
 * @since 0.1.0
 */
export interface ErrorOptions {
  /** Sent as `retry-after-ms`. */
  readonly retryAfter?: Duration.DurationInput
  readonly headers?: Readonly<Record<string, string>>
  readonly message?: string
}

/**
 * A failed response as `@effect/ai`'s providers report it: an
 * `HttpResponseError` of reason `StatusCode`, with the headers and an
 * Anthropic-style error body of this `type`.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const httpError = (status: number, type: string, options: ErrorOptions = {}): AiError.HttpResponseError =>
  new AiError.HttpResponseError({
    module: "ScriptedLanguageModel",
    method: "generate",
    reason: "StatusCode",
    request,
    response: {
      status,
      headers: {
        "content-type": "application/json",
        ...(options.retryAfter === undefined
          ? {}
          : { "retry-after-ms": String(Duration.toMillis(Duration.decode(options.retryAfter))) }),
        ...options.headers
      }
    },
    body: JSON.stringify({ type: "error", error: { type, message: options.message ?? type } })
  })

/**
 * A 429 `rate_limit_error`.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const rateLimited = (options?: ErrorOptions): AiError.HttpResponseError =>
  httpError(429, "rate_limit_error", options)

/**
 * A 529 `overloaded_error`.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const overloaded = (options?: ErrorOptions): AiError.HttpResponseError =>
  httpError(529, "overloaded_error", options)

/**
 * A 500 `api_error`.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const serverError = (options?: ErrorOptions): AiError.HttpResponseError => httpError(500, "api_error", options)

/**
 * A 400 `invalid_request_error`: never retried.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const invalidRequest = (options?: Omit<ErrorOptions, "retryAfter">): AiError.HttpResponseError =>
  httpError(400, "invalid_request_error", options)

/**
 * A connection that failed before any response (`HttpRequestError`, reason
 * `Transport`).
 *
 * @category fixtures
 * @since 0.1.0
 */
export const connectionLost = (): AiError.HttpRequestError =>
  new AiError.HttpRequestError({
    module: "ScriptedLanguageModel",
    method: "generate",
    reason: "Transport",
    request,
    description: "connection reset"
  })

// Scripted parts ---------------------------------------------------------------

/**
 * An in-band `error` part, as `@effect/ai-anthropic` delivers an `error`
 * event (`{ type, message }`); the stream ends after it.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const errorPart = (type: string, message: string = type): Response.StreamPartEncoded => ({
  type: "error",
  error: { type, message }
})

/**
 * A complete answer: `response-metadata`, the text in one delta per piece,
 * and a `finish` with reason `"stop"`.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const reply = (...pieces: ReadonlyArray<string>): ReadonlyArray<Response.StreamPartEncoded> => [
  metadata,
  ...text(...pieces),
  finish("stop")
]

/**
 * The parts of one text block: `text-start`, a delta per piece, `text-end`.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const text = (...pieces: ReadonlyArray<string>): ReadonlyArray<Response.StreamPartEncoded> => [
  { type: "text-start", id: "text_0" },
  ...pieces.map((delta): Response.StreamPartEncoded => ({ type: "text-delta", id: "text_0", delta })),
  { type: "text-end", id: "text_0" }
]

/**
 * A tool call as providers stream it: its parameters' JSON in one delta,
 * then the `tool-call` part.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const toolCall = (id: string, name: string, params: unknown): ReadonlyArray<Response.StreamPartEncoded> => [
  { type: "tool-params-start", id, name },
  { type: "tool-params-delta", id, delta: JSON.stringify(params) },
  { type: "tool-params-end", id },
  { type: "tool-call", id, name, params }
]

/**
 * The `response-metadata` part a provider sends first.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const metadata: Response.StreamPartEncoded = {
  type: "response-metadata",
  id: "scripted",
  modelId: "scripted-model",
  timestamp: undefined
}

/**
 * The `finish` part, with one token of usage each way.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const finish = (reason: Response.FinishReason): Response.StreamPartEncoded => ({
  type: "finish",
  reason,
  usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 }
})

// Internals -------------------------------------------------------------------

const request = {
  method: "POST",
  url: "http://scripted.invalid/v1/messages",
  urlParams: [],
  hash: Option.none(),
  headers: {}
} as const

const isAiError = (u: unknown): u is AiError.AiError => Predicate.hasProperty(u, AiError.TypeId)

// A stream's parts as the complete answer: text and reasoning joined per block, the framing parts dropped.
const assemble = (parts: ReadonlyArray<Response.StreamPartEncoded>): Array<Response.PartEncoded> => {
  const out: Array<Response.PartEncoded> = []
  const blocks = new Map<string, { type: "text" | "reasoning"; text: string }>()
  const block = (type: "text" | "reasoning", id: string) => {
    let found = blocks.get(`${type}:${id}`)
    if (found === undefined) {
      found = { type, text: "" }
      blocks.set(`${type}:${id}`, found)
      out.push(found)
    }
    return found
  }
  for (const part of parts) {
    switch (part.type) {
      case "text-start":
      case "reasoning-start":
        block(part.type === "text-start" ? "text" : "reasoning", part.id)
        break
      case "text-delta":
      case "reasoning-delta":
        block(part.type === "text-delta" ? "text" : "reasoning", part.id).text += part.delta
        break
      case "text-end":
      case "reasoning-end":
      case "tool-params-start":
      case "tool-params-delta":
      case "tool-params-end":
        break
      default:
        out.push(part as Response.PartEncoded)
    }
  }
  return out
}
