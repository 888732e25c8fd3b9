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
import * as ModelError from "./ModelError.js"
import * as Retryable from "./Retryable.js"
import * as RetryBudget from "./RetryBudget.js"
import * as RetrySchedule from "./RetrySchedule.js"

/**
 * @since 0.1.0
 */
export interface Options {
  /**
   * A shared {@link RetryBudget} that must admit every retry; when it refuses,
   * the last failure comes back at once as a `RetryBudgetExhaustedError`.
   */
  readonly budget?: RetryBudget.Service
}

/**
 * Decorates `inner` without a layer. `name` and `model` pass through.
 *
 * @throws InvalidRetryPolicy when `policy` is not valid
 * @since 0.1.0
 */
export const make = (
  inner: CompletionModel.Service,
  policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input = {},
  options: Options = {}
): CompletionModel.Service => {
  const validated = RetrySchedule.policy(policy)
  const schedule = RetrySchedule.make<ModelError.ModelError>(validated)
  const logged = <E extends ModelError.ModelError>(s: Schedule.Schedule<RetrySchedule.RetryStep<E>, E>) =>
    Schedule.onDecision(
      s,
      (step, decision) => decision._tag === "Continue" ? logRetry(inner, validated, step) : Effect.void
    )
  const { budget } = options
  if (budget === undefined) {
    const retrying = logged(schedule)
    return {
      name: inner.name,
      model: inner.model,
      chatStream: (request) => retryLazily(inner.chatStream(request), retrying)
    }
  }
  return {
    name: inner.name,
    model: inner.model,
    chatStream: (request) =>
      Effect.suspend(() => {
        // Per call: the error the last admitted retry followed (its cost is refunded on success),
        // and whether the budget refused, which turns the final failure into RetryBudgetExhaustedError.
        let lastRetried: ModelError.ModelError | undefined
        let refused = false
        // The budget is asked only once the schedule wants a retry, and before its wait.
        const admitted = schedule.pipe(
          Schedule.checkEffect((error: ModelError.ModelError) =>
            Effect.map(budget.admit(error), (granted) => {
              if (granted) lastRetried = error
              else refused = true
              return granted
            })
          ),
          logged
        )
        return retryLazily(inner.chatStream(request), admitted).pipe(
          Effect.tap(() => budget.recordSuccess(lastRetried)),
          Effect.catchAll((error) => refused ? Effect.fail(exhausted(inner, budget, error)) : Effect.fail(error))
        )
      })
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

/**
 * {@link layer} with the {@link RetryBudget} in context admitting every retry.
 *
 * @throws InvalidRetryPolicy when `policy` is not valid
 * @since 0.1.0
 */
export const layerWithBudget = (
  policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input = {}
): Layer.Layer<CompletionModel.CompletionModel, never, CompletionModel.CompletionModel | RetryBudget.RetryBudget> => {
  const validated = RetrySchedule.policy(policy)
  return Layer.effect(
    CompletionModel.CompletionModel,
    Effect.zipWith(
      CompletionModel.CompletionModel,
      RetryBudget.RetryBudget,
      (inner, budget) => make(inner, validated, { budget })
    )
  )
}

const exhausted = (inner: CompletionModel.Service, budget: RetryBudget.Service, error: ModelError.ModelError) =>
  new ModelError.RetryBudgetExhaustedError({
    provider: error.provider,
    message:
      `${inner.name}/${inner.model}: retry budget "${budget.key}" exhausted; not retrying ${error._tag}: ${error.message}`,
    ...(error.status === undefined ? {} : { status: error.status }),
    ...(error.requestId === undefined ? {} : { requestId: error.requestId }),
    ...(error.retryAfter === undefined ? {} : { retryAfter: error.retryAfter }),
    cause: error
  })

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
