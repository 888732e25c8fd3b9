/**
 * The retry layer for `@effect/ai`'s `LanguageModel`: the same policy,
 * classification, Retry-After floor and acquisition-only retries as
 * `RetryingModel`, for whatever `LanguageModel` is in context
 * (`AnthropicLanguageModel.model(...)`, `OpenAiLanguageModel.model(...)`, ...).
 *
 * - `generateText`, `generateObject`: the whole call is the acquisition.
 * - `streamText`: retried until the first content part (text, reasoning, a
 *   tool call's parameters or the call, a file or source, or the finish)
 *   reaches the caller. Parts before it (`response-metadata`, `text-start`,
 *   ...) are held and delivered with it; an `error` part before it is
 *   classified by the provider's error type and retried like a failed
 *   request; from the first content part on nothing is replayed.
 * - Which `AiError`s are retried: an `HttpResponseError` by its status and
 *   headers (as the adapters classify a response: 408, 409, 425, 429, 5xx,
 *   529, `x-should-retry`, `retry-after-ms`, `retry-after`, the provider's
 *   error type in the body), whatever its reason, and one of reason `Decode`
 *   with a 2xx status (a connection dropped before the first content part);
 *   an `HttpRequestError` of reason `Transport`. Decode, malformed and encode
 *   errors and 400, 401, 403, 404 are never retried.
 * - The caller gets the original `AiError` (or error part) when retries end; a
 *   per-attempt timeout or a budget refusal of this layer is an
 *   `AiError.UnknownError` that says which, with this library's error as its
 *   cause.
 *
 * @example
 * ```ts
 * import { LanguageModel } from "@effect/ai"
 * import { Effect } from "effect"
 * import { RetryingLanguageModel } from "effect-retry-layer/ai"
 *
 * declare const Provider: import("effect").Layer.Layer<LanguageModel.LanguageModel>
 * const Model = RetryingLanguageModel.layer({ maxAttempts: 4 }).pipe(
 *   import("effect").Layer.provide(Provider)
 * )
 * const program = LanguageModel.generateText({ prompt: "Hi" }).pipe(Effect.provide(Model))
 * ```
 *
 * @since 0.3.0
 */
import * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Response from "@effect/ai/Response"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as ExecutionStrategy from "effect/ExecutionStrategy"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as HttpClassification from "./HttpClassification.js"
import { Classified } from "./internal/classified.js"
import { knownErrorTypes } from "./internal/errorTypes.js"
import * as ModelError from "./ModelError.js"
import * as Retryable from "./Retryable.js"
import * as RetryAcquisition from "./RetryAcquisition.js"
import * as RetrySchedule from "./RetrySchedule.js"

/**
 * @since 0.3.0
 */
export interface Options {
  /** Names the spans, metrics and log lines. Default `"languageModel"`. */
  readonly name?: string
  readonly budget?: RetryAcquisition.Options<unknown>["budget"]
  /** Called once per retry, before its wait, with the original error (or error part). */
  readonly onRetry?: (step: RetrySchedule.RetryStep<unknown>) => Effect.Effect<void>
}

/**
 * `inner` with every call retried.
 *
 * @throws InvalidRetryPolicy when `policy` is not valid or sets `commitOn` (the commit point here is the first
 * content part)
 * @since 0.3.0
 */
export const make = (
  inner: LanguageModel.Service,
  policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input = {},
  options: Options = {}
): LanguageModel.Service => {
  const validated = RetrySchedule.honouredBy(RetrySchedule.policy(policy), "RetryingLanguageModel", [
    "timeout",
    "maxElapsed"
  ])
  const name = options.name ?? "languageModel"
  const retry = RetryAcquisition.retrying<Attempt>(validated, {
    name,
    provider: name,
    ...(options.budget === undefined ? {} : { budget: options.budget }),
    ...(options.onRetry === undefined ? {} : {
      onRetry: (step) => options.onRetry!({ ...step, error: original(step.error) })
    })
  })
  // One call: its failures wrapped so the schedule can classify them, and unwrapped for the caller.
  const retried = <A, E, R>(method: string, call: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    retry(Effect.mapError(call, (error) => error instanceof Classified ? error : attempt(error))).pipe(
      Effect.catchAll((failure) =>
        Effect.fail(failure instanceof Classified ? failure.value as E : ours(method, failure))
      )
    ) as Effect.Effect<A, E, R>
  const service: LanguageModel.Service = {
    generateText:
      ((options: Parameters<LanguageModel.Service["generateText"]>[0]) =>
        retried("generateText", inner.generateText(options))) as LanguageModel.Service["generateText"],
    generateObject:
      ((options: Parameters<LanguageModel.Service["generateObject"]>[0]) =>
        retried("generateObject", inner.generateObject(options))) as LanguageModel.Service["generateObject"],
    streamText: ((options: Parameters<LanguageModel.Service["streamText"]>[0]) =>
      Stream.unwrapScoped(
        Effect.flatMap(Effect.scope, (outer) =>
          retried("streamText", opened(inner.streamText(options) as Stream.Stream<Response.AnyPart, unknown>, outer))
            .pipe(
              // Delivered as @effect/ai delivers it: the held parts and the error part, then the end.
              Effect.catchIf(isErrorPart, (part) =>
                Effect.succeed(Stream.fromIterable(part.parts)))
            ))
      )) as LanguageModel.Service["streamText"]
  }
  return service
}

/**
 * Decorates whatever `LanguageModel` the layer is provided with.
 *
 * @throws InvalidRetryPolicy when `policy` is not valid
 * @since 0.3.0
 */
export const layer = (
  policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input = {},
  options: Options = {}
): Layer.Layer<LanguageModel.LanguageModel, never, LanguageModel.LanguageModel> => {
  const validated = RetrySchedule.honouredBy(RetrySchedule.policy(policy), "RetryingLanguageModel", [
    "timeout",
    "maxElapsed"
  ])
  return Layer.effect(
    LanguageModel.LanguageModel,
    Effect.map(LanguageModel.LanguageModel, (inner) => make(inner, validated, options))
  )
}

/**
 * How a failure of `@effect/ai` classifies (see the module's description).
 *
 * @since 0.3.0
 */
export const classify = (error: unknown): Retryable.RetryClassification => {
  if (!Predicate.hasProperty(error, AiError.TypeId)) return Retryable.permanent
  if (error instanceof AiError.HttpRequestError) {
    return error.reason === "Transport" ? Retryable.transient() : Retryable.permanent
  }
  if (error instanceof AiError.HttpResponseError) {
    const { headers, status } = error.response
    // A gateway's non-JSON error body is a "Decode" error with the real status: the status decides.
    if (status >= 400) {
      return Retryable.classify(HttpClassification.fromResponseAt({
        provider: error.module,
        status,
        headers,
        body: error.body ?? "",
        errorTypes: knownErrorTypes
        // No clock here: an HTTP-date Retry-After (read against 0) is too far off to count; the delta forms are read.
      }, 0))
    }
    // A 2xx that could not be read to the end: the connection dropped (only ever seen before the commit here).
    return error.reason === "Decode" ? Retryable.transient() : Retryable.permanent
  }
  return Retryable.permanent
}

// Internals -------------------------------------------------------------------

/** A failure of the inner model (or an error part), classified for the schedule; the caller gets it back. */
type Attempt = Classified<unknown>

const attempt = (error: unknown, classification = classify(error)): Attempt =>
  new Classified(error, classification, {
    _tag: Predicate.hasProperty(error, "_tag") && Predicate.isString(error._tag) ? error._tag : "AiError",
    message: Predicate.hasProperty(error, "message") && Predicate.isString(error.message) ? error.message : ""
  })

const original = (error: unknown): unknown =>
  error instanceof Classified ? (error.value instanceof ErrorPart ? error.value.part : error.value) : error

/** An `error` part before the first content part: the parts held so far and the error part itself. */
class ErrorPart {
  constructor(readonly parts: ReadonlyArray<Response.AnyPart>, readonly part: Response.AnyPart) {}
}

const isErrorPart = (u: unknown): u is ErrorPart => u instanceof ErrorPart

// What an in-band error says: its provider type (Anthropic's `{type, message}`, OpenAI's event with `code`).
const errorPartClassification = (part: Response.AnyPart): Retryable.RetryClassification => {
  const error = (part as { readonly error?: unknown }).error
  const nested = Predicate.hasProperty(error, "error") ? error.error : undefined
  for (const candidate of [error, nested]) {
    for (const key of ["code", "type"]) {
      const value = Predicate.hasProperty(candidate, key) ? candidate[key] : undefined
      const tag = Predicate.isString(value) ? knownErrorTypes[value] : undefined
      if (tag !== undefined) return ModelError.isTransientTag(tag) ? Retryable.transient() : Retryable.permanent
    }
  }
  return Retryable.permanent
}

// Parts that carry nothing yet; what comes after them is the first content.
const holding = new Set(["response-metadata", "text-start", "reasoning-start", "tool-params-start"])

/**
 * Opens the stream and reads it up to the first content part, in a scope of its own that is closed if this
 * attempt fails (its request is then abandoned) and otherwise when the caller's stream ends.
 */
const opened = (
  stream: Stream.Stream<Response.AnyPart, unknown>,
  outer: Scope.Scope
): Effect.Effect<Stream.Stream<Response.AnyPart, unknown>, unknown> =>
  Effect.flatMap(Scope.fork(outer, ExecutionStrategy.sequential), (scope) => {
    const read = Effect.gen(function*() {
      const pull = yield* Scope.extend(Stream.toPull(stream), scope)
      const held: Array<Response.AnyPart> = []
      for (;;) {
        const exit = yield* Effect.exit(pull)
        if (Exit.isFailure(exit)) {
          const failure = Cause.failureOption(exit.cause)
          // A defect or an interruption is not an answer: it goes on as it is.
          if (Option.isNone(failure)) return yield* Effect.failCause(exit.cause as Cause.Cause<never>)
          // The end of the stream before any content: the held parts are the whole answer.
          if (Option.isNone(failure.value)) return Stream.fromIterable(held)
          return yield* Effect.fail(failure.value.value)
        }
        const parts = Chunk.toReadonlyArray(exit.value)
        const first = parts.findIndex((part) => !holding.has(part.type))
        if (first === -1) {
          held.push(...parts)
          continue
        }
        const part = parts[first]!
        if (part.type === "error") {
          const delivered = [...held, ...parts.slice(0, first + 1)]
          return yield* Effect.fail(attempt(new ErrorPart(delivered, part), errorPartClassification(part)))
        }
        // Committed: the held parts, this read's rest, then every later read as it comes.
        return Stream.concat(Stream.fromIterable([...held, ...parts]), Stream.repeatEffectChunkOption(pull)).pipe(
          Stream.ensuring(Scope.close(scope, Exit.void))
        )
      }
    })
    return Effect.onExit(read, (exit) => Exit.isFailure(exit) ? Scope.close(scope, exit) : Effect.void)
  })

const ours = (method: string, failure: unknown): AiError.AiError =>
  new AiError.UnknownError({
    module: "RetryingLanguageModel",
    method,
    description: ModelError.isModelError(failure)
      ? `${failure._tag}: ${failure.message}`
      : "the retry layer failed the call",
    cause: failure
  })
