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
 * import { Effect, Layer } from "effect"
 * import { RetryingLanguageModel } from "effect-retry-layer/ai"
 *
 * declare const Provider: Layer.Layer<LanguageModel.LanguageModel>
 * const Model = RetryingLanguageModel.layer({ maxAttempts: 4 }).pipe(Layer.provide(Provider))
 * const program = LanguageModel.generateText({ prompt: "Hi" }).pipe(Effect.provide(Model))
 * ```
 *
 * @since 0.1.0
 */
import * as AiError from "@effect/ai/AiError"
import * as LanguageModel from "@effect/ai/LanguageModel"
import type * as Response from "@effect/ai/Response"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import type * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import type * as AdaptiveRateLimiter from "./AdaptiveRateLimiter.js"
import type * as CircuitBreaker from "./CircuitBreaker.js"
import * as HttpClassification from "./core/HttpClassification.js"
import { Classified } from "./core/internal/classified.js"
import { knownErrorTypes } from "./core/internal/errorTypes.js"
import type { InvalidOptions } from "./core/internal/invalidOptions.js"
import { check, checked, validatedLayer } from "./core/internal/invalidOptions.js"
import * as Shared from "./core/internal/languageModel.js"
import * as ProviderQuota from "./core/internal/providerQuota.js"
import * as ModelError from "./core/ModelError.js"
import * as RateLimitHeaders from "./core/RateLimitHeaders.js"
import * as Retryable from "./core/Retryable.js"
import { readToCommit } from "./internal/commit.js"
import * as Policy from "./Policy.js"
import * as RetryAcquisition from "./RetryAcquisition.js"
import * as RetryingHttpClient from "./RetryingHttpClient.js"
import * as RetrySchedule from "./RetrySchedule.js"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** Names the spans, metrics and log lines. Default `"languageModel"`. */
  readonly name?: string
  readonly budget?: RetryAcquisition.Options<unknown>["budget"] | undefined
  /** Every attempt goes through this breaker (its state shared with whoever else uses it). */
  readonly breaker?: CircuitBreaker.CircuitBreaker | undefined
  /**
   * Every attempt is paced by this limiter, inside the breaker; it learns from the attempt's throttling and
   * from the rate-limit headers of its failed response (of every response, with the provider's client built
   * with `ResilientLanguageModel.transformClient`). Each attempt is charged one request, its prompt's size in
   * tokens and the limiter's `maxTokens` of output, settled with the response's usage.
   */
  readonly limiter?: AdaptiveRateLimiter.AdaptiveRateLimiter | undefined
  /** Called once per retry, before its wait, with the original error (or error part). */
  readonly onRetry?: (step: RetrySchedule.RetryStep<unknown>) => Effect.Effect<void>
  /**
   * What the caller gets when an `error` part before the first content part is still there after the last
   * attempt: `"part"` (default) the parts as `@effect/ai` delivers them, the error part last, in a stream that
   * ends without failing; `"fail"` no part, and a stream that fails with an `AiError.UnknownError` whose cause is
   * the error part, so that a fallback (`Stream.withExecutionPlan`, `Stream.orElse`) sees it.
   */
  readonly errorPartBeforeContent?: "part" | "fail"
  /**
   * Credentials to scrub from every message this layer quotes (its log lines, its own errors), should a
   * response echo them: the layer does not hold the key an `@effect/ai` client was given. Anthropic's and
   * OpenAI's key formats and AWS access key ids are scrubbed without being named here.
   */
  readonly secrets?: ReadonlyArray<Redacted.Redacted>
}

/**
 * `inner` with every call retried.
 *
 * @throws InvalidOptions when an option is unknown or of the wrong kind (`errorPartBeforeContent: "fial"`)
 * @throws InvalidRetryPolicy when `policy` is not valid or sets `commitOn` (the commit point here is the first
 * content part)
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  inner: LanguageModel.Service,
  policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input = {},
  options: Options = {}
): LanguageModel.Service => {
  const validated = RetrySchedule.honouredBy(RetrySchedule.policy(policy), "RetryingLanguageModel", [
    "timeout",
    "maxElapsed",
    "untilDeadline"
  ])
  checked("RetryingLanguageModel", options, fields)
  const name = options.name ?? "languageModel"
  // Each attempt: the breaker outside the limiter, as the recommended stack orders them.
  const attempt = Policy.compose(
    ...(options.breaker === undefined ? [] : [options.breaker]),
    ...(options.limiter === undefined ? [] : [options.limiter])
  )
  const failErrorPart = options.errorPartBeforeContent === "fail"
  const secrets = options.secrets ?? []
  const retry = RetryAcquisition.retrying<Shared.Attempt>(validated, {
    name,
    provider: name,
    secrets,
    ...(options.budget === undefined ? {} : { budget: options.budget }),
    ...(options.onRetry === undefined ? {} : {
      onRetry: (step) => options.onRetry!({ ...step, error: Shared.original(step.error) })
    })
  })
  // One attempt through the policies, its failures classified for the schedule (and the limiter and the breaker,
  // which read them too), the headers of a failed response reported to the limiter. `call` settles the attempt's
  // charge with its usage.
  const guarded = <A, E, R>(
    prompt: unknown,
    call: (settle: Policy.Settle) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, Shared.Attempt | ModelError.ModelError, R> =>
    attempt.applyCall({
      size: { chars: Shared.promptChars(prompt), maxTokens: undefined },
      run: (settle) =>
        Effect.catchAll(call(settle), (error) =>
          error instanceof Classified
            ? Effect.fail(error as Shared.Attempt)
            : Effect.zipRight(
              error instanceof AiError.HttpResponseError
                ? RateLimitHeaders.reportHeaders(error.response.headers)
                : Effect.void,
              Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.fail(classifiedAttempt(error, now, secrets)))
            ))
    })
  // One call: retried, and its failure unwrapped for the caller.
  const retried = <A, E, R>(
    method: string,
    prompt: unknown,
    call: (settle: Policy.Settle) => Effect.Effect<A, E, R>
  ): Effect.Effect<A, E, R> =>
    retry(guarded(prompt, call) as Effect.Effect<A, Shared.Attempt, R>).pipe(
      Effect.catchAll((failure) =>
        Effect.fail(failure instanceof Classified ? failure.value as E : ours(method, failure))
      )
    ) as Effect.Effect<A, E, R>
  const service: LanguageModel.Service = {
    generateText: ((options: Parameters<LanguageModel.Service["generateText"]>[0]) =>
      retried(
        "generateText",
        options.prompt,
        (settle) => Effect.tap(inner.generateText(options), (response) => settle(response.usage))
      )) as LanguageModel.Service["generateText"],
    generateObject: ((options: Parameters<LanguageModel.Service["generateObject"]>[0]) =>
      retried(
        "generateObject",
        options.prompt,
        (settle) => Effect.tap(inner.generateObject(options), (response) => settle(response.usage))
      )) as LanguageModel.Service["generateObject"],
    streamText: ((options: Parameters<LanguageModel.Service["streamText"]>[0]) =>
      Stream.unwrapScoped(
        Effect.flatMap(Effect.scope, (outer) =>
          retried(
            "streamText",
            options.prompt,
            (settle) =>
              Effect.map(
                readToCommit(
                  inner.streamText(options) as Stream.Stream<Response.AnyPart, unknown>,
                  Shared.firstContent<Response.AnyPart>(name, secrets),
                  outer
                ),
                // A committed stream settles its attempt's charge at its `finish` part, or gives it back.
                (stream) =>
                  !attempt.settles ? stream : ProviderQuota.settleOnce(
                    stream,
                    (part) => part.type === "finish" ? settle(part.usage) : undefined,
                    settle()
                  )
              )
          )
            .pipe(
              Effect.catchIf(
                (error): error is Shared.ErrorPart<Response.AnyPart> => Shared.isErrorPart(error),
                (error) =>
                  failErrorPart
                    ? Effect.fail(
                      new AiError.UnknownError({
                        module: "RetryingLanguageModel",
                        method: "streamText",
                        description: `an error part before any content, after the last attempt: ${error.message}`,
                        cause: error.part
                      })
                    )
                    // Delivered as @effect/ai delivers it: the held parts and the error part, then the end.
                    : Effect.succeed(Stream.fromIterable(error.parts))
              )
            ))
      )) as LanguageModel.Service["streamText"]
  }
  return service
}

/**
 * Decorates whatever `LanguageModel` the layer is provided with.
 *
 * Fails, when built, with `InvalidRetryPolicy` if `policy` is not valid, `InvalidOptions` if an option is unknown
 * or of the wrong kind.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input = {},
  options: Options = {}
): Layer.Layer<
  LanguageModel.LanguageModel,
  InvalidOptions | RetrySchedule.InvalidRetryPolicy,
  LanguageModel.LanguageModel
> =>
  validatedLayer(() => {
    const validated = RetrySchedule.honouredBy(RetrySchedule.policy(policy), "RetryingLanguageModel", [
      "timeout",
      "maxElapsed",
      "untilDeadline"
    ])
    checked("RetryingLanguageModel", options, fields)
    return Layer.effect(
      LanguageModel.LanguageModel,
      Effect.map(LanguageModel.LanguageModel, (inner) => make(inner, validated, options))
    )
  })

/**
 * Retries below `@effect/ai`, at the HTTP level: a function to give as
 * `AnthropicClient.layer({ transformClient })` or
 * `OpenAiClient.layer({ transformClient })`. It retries statuses (with their
 * hints) and transport failures, but cannot see an error that arrives inside a
 * stream that opened with 200 (Anthropic's `overloaded_error` as the first
 * event): {@link layer} can. The same function as
 * `RetryingHttpClient.transformClient` (`effect-retry-layer/http`).
 *
 * @category combinators
 * @since 0.1.0
 */
export const transformClient: typeof RetryingHttpClient.transformClient = RetryingHttpClient.transformClient

/**
 * How a failure of `@effect/ai` classifies (see the module's description).
 * `now` (milliseconds since the epoch, as `Clock` gives it) is what an
 * HTTP-date `Retry-After` is read against.
 *
 * @category classification
 * @since 0.1.0
 */
export const classify = (error: unknown, now: number): Retryable.RetryClassification => {
  const seen = amountsTo(error, now)
  return seen === undefined ? Retryable.permanent : Retryable.classify(seen)
}

// Internals -------------------------------------------------------------------

// The keys of `Options`, checked where the model or the layer is made.
const fields = {
  name: check.string,
  budget: check.any,
  breaker: check.any,
  limiter: check.any,
  onRetry: check.function,
  errorPartBeforeContent: check.oneOf("part", "fail"),
  secrets: check.secrets
} as const

/**
 * The error of this library an `@effect/ai` failure amounts to (whose tag the limiter and the breaker read), or
 * `undefined` for one that is never retried.
 */
const amountsTo = (
  error: unknown,
  now: number,
  secrets: ReadonlyArray<Redacted.Redacted> = []
): ModelError.ModelError | undefined => {
  if (!Predicate.hasProperty(error, AiError.TypeId)) return undefined
  if (error instanceof AiError.HttpRequestError) {
    return error.reason === "Transport"
      ? new ModelError.ConnectionError({
        provider: error.module,
        message: HttpClassification.safeText(error.message, secrets)
      })
      : undefined
  }
  if (error instanceof AiError.HttpResponseError) {
    const { headers, status } = error.response
    // A gateway's non-JSON error body is a "Decode" error with the real status: the status decides.
    if (status >= 400) {
      return HttpClassification.fromResponseAt({
        provider: error.module,
        status,
        headers,
        body: error.body ?? "",
        errorTypes: knownErrorTypes,
        secrets
      }, now)
    }
    // A 2xx that could not be read to the end: the connection dropped (only ever seen before the commit here).
    return error.reason === "Decode"
      ? new ModelError.ConnectionError({
        provider: error.module,
        status,
        message: HttpClassification.safeText(error.message, secrets)
      })
      : undefined
  }
  return undefined
}

const classifiedAttempt = (error: unknown, now: number, secrets: ReadonlyArray<Redacted.Redacted>): Shared.Attempt =>
  Shared.attempt(error, amountsTo(error, now, secrets), secrets)

const ours = (method: string, failure: unknown): AiError.AiError =>
  new AiError.UnknownError({
    module: "RetryingLanguageModel",
    method,
    description: Shared.ownFailure(failure),
    cause: failure
  })
