/**
 * A `CompletionModel` decorator that retries the acquisition of every
 * `chatStream` call with a {@link RetrySchedule}.
 *
 * Only the acquisition (request sent, status checked, stream opened) is
 * retried. The stream it returns is the inner model's own, untouched: an error
 * in the middle of it reaches the caller and no request is reissued, because
 * the caller may already have consumed part of the answer.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Stream } from "effect"
 * import { CompletionModel, RetryingModel } from "effect-retry-layer"
 *
 * declare const AnthropicLive: Layer.Layer<CompletionModel.CompletionModel>
 *
 * const ModelLive = RetryingModel.layer({ maxAttempts: 4, baseDelay: "500 millis" }).pipe(
 *   Layer.provide(AnthropicLive)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Schedule from "effect/Schedule"
import * as CompletionModel from "./CompletionModel.js"
import { retryLazily } from "./internal/retry.js"
import * as Retryable from "./Retryable.js"
import * as RetrySchedule from "./RetrySchedule.js"

/**
 * Decorates `inner` without a layer. `name` and `model` pass through.
 *
 * @throws InvalidRetryPolicy when `policy` is not valid
 * @since 0.1.0
 */
export const make = (
  inner: CompletionModel.Service,
  policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input = {}
): CompletionModel.Service => {
  const validated = RetrySchedule.policy(policy)
  const schedule = RetrySchedule.make(validated).pipe(
    Schedule.onDecision((step, decision) =>
      decision._tag === "Continue" ? logRetry(inner, validated, step) : Effect.void
    )
  )
  return {
    name: inner.name,
    model: inner.model,
    chatStream: (request) => retryLazily(inner.chatStream(request), schedule)
  }
}

/**
 * Decorates whatever `CompletionModel` the layer is provided with.
 *
 * @throws InvalidRetryPolicy when `policy` is not valid (at construction, not when the layer is built)
 * @since 0.1.0
 */
export const layer = (
  policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input = {}
): Layer.Layer<CompletionModel.CompletionModel, never, CompletionModel.CompletionModel> => {
  const validated = RetrySchedule.policy(policy)
  return Layer.effect(
    CompletionModel.CompletionModel,
    Effect.map(CompletionModel.CompletionModel, (inner) => make(inner, validated))
  )
}

const errorTag = (error: unknown): string =>
  Predicate.hasProperty(error, "_tag") && Predicate.isString(error._tag) ? error._tag : "UnknownError"

const roundedMillis = (d: Duration.Duration): number => Math.round(Duration.toMillis(d))

const logRetry = (
  inner: CompletionModel.Service,
  policy: RetrySchedule.RetryPolicy,
  step: RetrySchedule.RetryStep<unknown>
) => {
  const tag = errorTag(step.error)
  const status = Predicate.hasProperty(step.error, "status") ? step.error.status : undefined
  const hint = Retryable.retryAfter(step.error)
  const facts = [
    status === undefined ? [] : [`status ${status}`],
    Option.match(hint, { onNone: () => [], onSome: (d) => [`retry-after ${roundedMillis(d)} ms`] })
  ].flat()
  const why = Predicate.hasProperty(step.error, "message") ? `: ${String(step.error.message)}` : ""
  return Effect.logWarning(
    `${inner.name}/${inner.model}: attempt ${step.attempt} of ${policy.maxAttempts} failed with ${tag}` +
      (facts.length > 0 ? ` (${facts.join(", ")})` : "") + `${why}; retrying in ${roundedMillis(step.delay)} ms`
  ).pipe(
    Effect.annotateLogs({
      attempt: step.attempt,
      delayMillis: roundedMillis(step.delay),
      error: tag,
      ...(status === undefined ? {} : { status })
    })
  )
}
