/**
 * The retry layer for Effect 4's `effect/ai` `LanguageModel`: the same policy, classification, Retry-After floor
 * and acquisition-only retries as the Effect 3 line's, for whatever `LanguageModel` is in context (a provider's,
 * or one you wrote).
 *
 * - `generateText`, `generateObject`: the whole call is the acquisition.
 * - `streamText`: retried until the first content part (text, reasoning, a tool call's parameters or the call,
 *   a file or source, or the finish) reaches the caller. Parts before it (`response-metadata`, `text-start`,
 *   ...) are held and delivered with it; an `error` part before it is classified by the provider's error type
 *   and retried like a failed request; from the first content part on nothing is replayed.
 * - Which `AiError`s are retried: the reasons about getting an answer, when their `isRetryable` says so:
 *   `RateLimitError` (its `retryAfter` a floor under the backoff), `InternalProviderError`, `NetworkError` of
 *   reason `TransportError`. Where the reason carries the HTTP response, its status and headers are read as the
 *   adapters read a response (`x-should-retry`, `retry-after-ms`, `retry-after`, the provider's error type in
 *   the body). Reasons about the answer or the tools (`InvalidOutputError`, `StructuredOutputError`, the tool
 *   errors) are never retried here: the model answered, and tool handlers may already have run.
 *   `QuotaExhaustedError`, `AuthenticationError`, `InvalidRequestError`, `ContentPolicyError` are permanent.
 * - The caller gets the original `AiError` (or error part) when retries end; a per-attempt timeout (`timeout`) or
 *   the call's deadline (`maxElapsed`) reached is an `AiError` (reason `UnknownError`) that says which.
 *
 * - With `budget`, `breaker` and `limiter` (or `ResilientLanguageModel.layer`, which makes them), every retry is
 *   admitted by the budget and every attempt goes through the breaker and then the limiter, charged one request,
 *   its prompt's size in tokens and the limiter's `maxTokens` of output, settled with the response's usage.
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { LanguageModel } from "effect/ai"
 * import { RetryingLanguageModel } from "effect-retry-layer"
 *
 * declare const Provider: Layer.Layer<LanguageModel.LanguageModel>
 * const Model = RetryingLanguageModel.layer({ maxAttempts: 4 }).pipe(Layer.provide(Provider))
 * const program = LanguageModel.generateText({ prompt: "Hi" }).pipe(Effect.provide(Model))
 * ```
 *
 * @since 1.0.0
 */
import * as AiError from "effect/ai/AiError"
import * as LanguageModel from "effect/ai/LanguageModel"
import type * as Response from "effect/ai/Response"
import * as Clock from "effect/Clock"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import type * as AdaptiveRateLimiter from "./core/AdaptiveRateLimiter.js"
import type * as CircuitBreaker from "./core/CircuitBreaker.js"
import * as HttpClassification from "./core/HttpClassification.js"
import { Classified } from "./core/internal/classified.js"
import { knownErrorTypes } from "./core/internal/errorTypes.js"
import * as Shared from "./core/internal/languageModel.js"
import * as ProviderQuota from "./core/internal/providerQuota.js"
import * as ModelError from "./core/ModelError.js"
import * as Policy from "./core/Policy.js"
import * as RateLimitHeaders from "./core/RateLimitHeaders.js"
import type * as Retryable from "./core/Retryable.js"
import type * as RetryBudget from "./core/RetryBudget.js"
import { readToCommit } from "./internal/commit.js"
import * as RetryAcquisition from "./RetryAcquisition.js"
import * as RetrySchedule from "./RetrySchedule.js"

/**
 * @category models
 * @since 1.0.0
 */
export interface Options {
  /** Names the log lines. Default `"languageModel"`. */
  readonly name?: string | undefined
  /** Every retry must be admitted by this budget. */
  readonly budget?: RetryBudget.Service | undefined
  /** Every attempt goes through this breaker (its state shared with whoever else uses it). */
  readonly breaker?: CircuitBreaker.CircuitBreaker | undefined
  /**
   * Every attempt is paced by this limiter, inside the breaker; it learns from the attempt's throttling and from
   * the rate-limit headers of its response (this library's providers report every response's; another
   * `LanguageModel`'s, those an `AiError` carries).
   */
  readonly limiter?: AdaptiveRateLimiter.AdaptiveRateLimiter | undefined
  /** Called once per retry, before its wait, with the original error (or error part). */
  readonly onRetry?: ((step: RetrySchedule.RetryStep<unknown>) => Effect.Effect<void>) | undefined
  /**
   * What the caller gets when an `error` part before the first content part is still there after the last
   * attempt: `"part"` (default) the parts as `effect/ai` delivers them, the error part last, in a stream that
   * ends without failing; `"fail"` no part, and a stream that fails with an `AiError` (reason `UnknownError`)
   * whose description quotes the error part.
   */
  readonly errorPartBeforeContent?: "part" | "fail" | undefined
  /** Credentials to scrub from every message this layer quotes, should a response echo them. */
  readonly secrets?: ReadonlyArray<Redacted.Redacted> | undefined
}

/**
 * `inner` with every call retried.
 *
 * @throws InvalidRetryPolicy when `policy` is not valid or sets `commitOn` (the commit point here is the first
 * content part)
 * @category constructors
 * @since 1.0.0
 */
export const make = (
  inner: LanguageModel.LanguageModel,
  policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input = {},
  options: Options = {}
): LanguageModel.LanguageModel => {
  const validated = RetrySchedule.honouredBy(RetrySchedule.policy(policy), "RetryingLanguageModel", [
    "timeout",
    "maxElapsed",
    "untilDeadline"
  ])
  const name = options.name ?? "languageModel"
  const secrets = options.secrets ?? []
  // Each attempt: the breaker outside the limiter, as the recommended stack orders them.
  const attempt = Policy.compose(
    ...(options.breaker === undefined ? [] : [options.breaker]),
    ...(options.limiter === undefined ? [] : [options.limiter])
  )
  const retry = RetryAcquisition.retrying<Shared.Attempt>(validated, {
    name,
    provider: name,
    secrets,
    budget: options.budget,
    onRetry: options.onRetry === undefined
      ? undefined
      : (step) => options.onRetry!({ ...step, error: Shared.original(step.error) })
  })
  // One call: each attempt through the policies, each failure classified as it comes (`now` reads an HTTP-date
  // Retry-After) and its response's rate-limit headers reported to the limiter, retried, and the original failure
  // given back (a timeout of this layer's, an AiError that says so). `call` settles the attempt's charge.
  const retried = <A, E, R>(
    method: string,
    prompt: unknown,
    call: (settle: Policy.Settle) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R> => {
    const guarded = attempt.applyCall({
      size: { chars: Shared.promptChars(prompt), maxTokens: undefined },
      run: (settle) =>
        // A stream's error part comes classified already.
        Effect.catch(call(settle), (error: E) =>
          error instanceof Classified
            ? Effect.fail(error as Shared.Attempt)
            : Effect.andThen(
              reportHeaders(error),
              Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(classified(error, now, secrets)))
            ))
    }) as Effect.Effect<A, Shared.Attempt, R>
    return Effect.mapError(
      retry(guarded),
      (failure) => (failure instanceof Classified ? failure.value : ours(method, failure)) as E
    )
  }
  const service: LanguageModel.LanguageModel = {
    ...inner,
    generateText: ((options: Parameters<LanguageModel.LanguageModel["generateText"]>[0]) =>
      retried(
        "generateText",
        options.prompt,
        (settle) => Effect.tap(inner.generateText(options), (response) => settle(usageOf(response.usage)))
      )) as LanguageModel.LanguageModel["generateText"],
    generateObject: ((options: Parameters<LanguageModel.LanguageModel["generateObject"]>[0]) =>
      retried(
        "generateObject",
        options.prompt,
        (settle) => Effect.tap(inner.generateObject(options), (response) => settle(usageOf(response.usage)))
      )) as LanguageModel.LanguageModel["generateObject"],
    streamText: ((options: Parameters<LanguageModel.LanguageModel["streamText"]>[0]) =>
      Stream.unwrap(
        retried(
          "streamText",
          options.prompt,
          (settle) =>
            Effect.map(
              readToCommit(
                inner.streamText(options) as Stream.Stream<Response.AnyPart, unknown>,
                Shared.firstContent<Response.AnyPart>(name, secrets)
              ),
              // A committed stream settles its attempt's charge at its `finish` part, or gives it back.
              (stream) =>
                !attempt.settles ? stream : ProviderQuota.settleOnce(
                  stream,
                  (part) => part.type === "finish" ? settle(usageOf(part.usage)) : undefined,
                  settle()
                )
            )
        ).pipe(
          Effect.catchIf(
            (error): error is Shared.ErrorPart<Response.AnyPart> => Shared.isErrorPart(error),
            (error) =>
              options.errorPartBeforeContent === "fail"
                ? Effect.fail(
                  AiError.make({
                    module: "RetryingLanguageModel",
                    method: "streamText",
                    reason: new AiError.UnknownError({
                      description: `an error part before any content, after the last attempt: ${error.message}`
                    })
                  })
                )
                // Delivered as effect/ai delivers it: the held parts and the error part, then the end.
                : Effect.succeed(Stream.fromIterable(error.parts))
          )
        )
      )) as LanguageModel.LanguageModel["streamText"]
  }
  return service
}

/**
 * Decorates whatever `LanguageModel` the layer is provided with. Fails, when built, with `InvalidRetryPolicy` if
 * `policy` is not valid.
 *
 * @category layers
 * @since 1.0.0
 */
export const layer = (
  policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input = {},
  options: Options = {}
): Layer.Layer<LanguageModel.LanguageModel, RetrySchedule.InvalidRetryPolicy, LanguageModel.LanguageModel> =>
  Layer.effect(
    LanguageModel.LanguageModel,
    Effect.flatMap(
      Effect.try({
        try: () =>
          RetrySchedule.honouredBy(RetrySchedule.policy(policy), "RetryingLanguageModel", [
            "timeout",
            "maxElapsed",
            "untilDeadline"
          ]),
        catch: (error) => error as RetrySchedule.InvalidRetryPolicy
      }),
      (validated) => Effect.map(Effect.service(LanguageModel.LanguageModel), (inner) => make(inner, validated, options))
    )
  )

/**
 * How a failure of `effect/ai` classifies (see the module's description). `now` (milliseconds since the epoch,
 * as `Clock` gives it) is what an HTTP-date `Retry-After` is read against.
 *
 * @category classification
 * @since 1.0.0
 */
export const classify = (error: unknown, now: number): Retryable.RetryClassification =>
  classified(error, now, []).classification

// Internals -------------------------------------------------------------------

// A failure of this layer's own (a timeout), as an AiError whose description says which.
const ours = (method: string, failure: unknown): AiError.AiError =>
  AiError.make({
    module: "RetryingLanguageModel",
    method,
    reason: new AiError.UnknownError({ description: Shared.ownFailure(failure) })
  })

const classified = (error: unknown, now: number, secrets: ReadonlyArray<Redacted.Redacted>): Shared.Attempt =>
  Shared.attempt(error, amountsTo(error, now, secrets), secrets, hintOf(error))

// The error of this library an effect/ai failure amounts to, or `undefined` for one that is never retried.
const amountsTo = (
  error: unknown,
  now: number,
  secrets: ReadonlyArray<Redacted.Redacted>
): ModelError.ModelError | undefined => {
  if (!AiError.isAiError(error)) return undefined
  const reason = error.reason
  // What the reason says of itself is respected: a 429 that is a `QuotaExhaustedError` is not retried.
  if (!reason.isRetryable) return undefined
  const provider = error.module
  const message = HttpClassification.safeText(reason.message, secrets)
  switch (reason._tag) {
    case "NetworkError":
      return new ModelError.ConnectionError({ provider, message })
    case "RateLimitError":
    case "InternalProviderError": {
      const response = reason.http?.response
      // The status and headers, where the reason kept them, say the most (x-should-retry, the hints).
      if (response !== undefined && response.status >= 400) {
        return HttpClassification.fromResponseAt({
          provider,
          status: response.status,
          headers: plainHeaders(response.headers),
          body: reason.http?.body ?? "",
          errorTypes: knownErrorTypes,
          secrets
        }, now)
      }
      return reason._tag === "RateLimitError"
        ? new ModelError.RateLimitError({ provider, message })
        : new ModelError.ServerError({ provider, message })
    }
    default:
      return undefined
  }
}

// The rate-limit headers of the response a failure carries, reported to the limiter of the attempt.
const reportHeaders = (error: unknown): Effect.Effect<void> => {
  const response = AiError.isAiError(error) && "http" in error.reason ? error.reason.http?.response : undefined
  return response === undefined ? Effect.void : RateLimitHeaders.reportHeaders(plainHeaders(response.headers))
}

// What a turn used, as the limiter settles it: input tokens not read from the cache (cache reads do not count
// against the provider's input limits; a total that includes them errs high), and cache writes apart.
const usageOf = (usage: Response.Usage): Policy.Usage => ({
  inputTokens: usage.inputTokens.uncached ?? usage.inputTokens.total,
  outputTokens: usage.outputTokens.total,
  cacheWriteTokens: usage.inputTokens.cacheWrite
})

// A `RateLimitError`'s own `retryAfter`: a floor beside the response's hint.
const hintOf = (error: unknown): Duration.Duration | undefined =>
  AiError.isAiError(error) && error.reason._tag === "RateLimitError" ? error.reason.retryAfter : undefined

const plainHeaders = (headers: { readonly [name: string]: string | Redacted.Redacted<string> }) => {
  const plain: Record<string, string> = {}
  // A redacted header is a credential, never a hint.
  for (const name in headers) {
    const value = headers[name]
    if (typeof value === "string") plain[name] = value
  }
  return plain
}
