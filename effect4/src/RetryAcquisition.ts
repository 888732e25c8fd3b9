/**
 * Retries the acquisition of any resource (an HTTP response, a database connection, a model stream) with a
 * {@link RetrySchedule} policy: the Effect 4 line's driver of every retry, as the Effect 3 line's is there.
 *
 * - Classification: only errors that classify themselves as transient are retried (plus rate-limit look-alikes
 *   under `detectRateLimits`); the server's `retryAfter` is a floor for the wait.
 * - Deadlines: `timeout` limits each attempt (a `TimeoutError`, transient); `maxElapsed` limits the whole call:
 *   a wait that would cross it is not started (the last error comes back at once), and an attempt still running
 *   when it passes is cut off with a `TimeoutError`.
 * - Observability: a span per call (`name`) and per attempt (`name.attempt`) with `retry.attempt`,
 *   `retry.delay_ms`, `retry.classification`, `error.type` and `http.response.status_code`; the metrics
 *   `effect_retry_layer_retries_total` (by `reason`, the error tag), `effect_retry_layer_attempts` (per call)
 *   and `effect_retry_layer_retry_delay_ms`; a warning log per retry, worded as on the Effect 3 line; and the
 *   `onRetry` hook, called once per retry before its wait.
 *
 * - Budget: with `budget`, every retry must be admitted by a shared `RetryBudget`; a refusal returns a
 *   `RetryBudgetExhaustedError` at once.
 *
 * @example
 * ```ts
 * import { Data, Effect } from "effect"
 * import { RetryAcquisition, Retryable } from "effect-retry-layer"
 *
 * class PoolBusy extends Data.TaggedError("PoolBusy") {
 *   [Retryable.symbol]() { return Retryable.transient() }
 * }
 * declare const connect: Effect.Effect<{ query: (sql: string) => Promise<unknown> }, PoolBusy>
 *
 * const connection = connect.pipe(
 *   RetryAcquisition.retryAcquisition({ maxAttempts: 5, baseDelay: "100 millis", maxElapsed: "3 seconds" }, { name: "db.connect" })
 * )
 * ```
 *
 * @since 1.0.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { dual } from "effect/Function"
import * as Metric from "effect/Metric"
import type * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Deadlines from "./core/internal/deadline.js"
import { errorTag, exhausted, failureAttributes, retryLine, roundedMillis } from "./core/internal/report.js"
import * as Retried from "./core/internal/retried.js"
import * as ModelError from "./core/ModelError.js"
import type * as RetryBudget from "./core/RetryBudget.js"
import { getReference } from "./internal/compat.js"
import * as Schedules from "./internal/schedule.js"
import * as RetrySchedule from "./RetrySchedule.js"

/**
 * @category models
 * @since 1.0.0
 */
export interface Options<E> {
  /** Names the spans (`name`, `name.attempt`) and the metrics' `operation` label. Default `"retryAcquisition"`. */
  readonly name?: string | undefined
  /** The `provider` of the errors this layer makes (a timeout, a budget refusal). Default the name. */
  readonly provider?: string | undefined
  /** Starts each log line, e.g. `"anthropic/claude-sonnet-4-5"`. Default the name. */
  readonly label?: string | undefined
  /** Extra attributes for both spans, e.g. the model. */
  readonly attributes?: Readonly<Record<string, unknown>> | undefined
  /** Every retry must be admitted by this budget (shared by whoever else uses it). */
  readonly budget?: RetryBudget.Service | undefined
  /** Called once per retry, before its wait, with the step the schedule took. */
  readonly onRetry?: ((step: RetrySchedule.RetryStep<E>) => Effect.Effect<void>) | undefined
  /** Values (API keys, tokens) scrubbed from every error message this layer quotes. */
  readonly secrets?: ReadonlyArray<Redacted.Redacted> | undefined
}

/**
 * The failures of a retried acquisition: its own, an attempt or deadline timeout, or a refusal of the budget.
 *
 * @category models
 * @since 1.0.0
 */
export type Failure<E> = E | ModelError.TimeoutError | ModelError.RetryBudgetExhaustedError

/**
 * @category combinators
 * @since 1.0.0
 */
export const retryAcquisition: {
  <E>(
    policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input,
    options?: Options<Failure<E>>
  ): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, Failure<E>, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input,
    options?: Options<Failure<E>>
  ): Effect.Effect<A, Failure<E>, R>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input,
    options: Options<Failure<E>> = {}
  ): Effect.Effect<A, Failure<E>, R> => retrying<E>(RetrySchedule.policy(policy), options)(self)
)

/**
 * {@link retryAcquisition} with the policy validated once, for a function applied to many effects (a layer's
 * every call).
 *
 * @throws InvalidRetryPolicy when `policy` is not valid
 * @category combinators
 * @since 1.0.0
 */
export const retrying = <E>(policy: RetrySchedule.RetryPolicy, options: Options<Failure<E>> = {}) => {
  const { attributes, label, maxElapsed, name, provider, timeout } = Deadlines.acquisitionSettings(policy, options)
  const { budget, onRetry, secrets = [] } = options
  const schedule = Schedules.fromPolicy<Failure<E>>(
    RetrySchedule.honouredBy(policy, options.name ?? "RetryAcquisition", ["timeout", "maxElapsed", "untilDeadline"])
  )
  // With `untilDeadline`, the schedule of a call with a deadline set around it: the deadline ends its retries.
  const untilSchedule = policy.untilDeadline
    ? Schedules.fromPolicy<Failure<E>>(Deadlines.untilDeadline(policy))
    : undefined
  const attemptsMetric = Metric.withAttributes(attempts, { operation: name })
  const delaysMetric = Metric.withAttributes(retryDelays, { operation: name })

  return <A, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, Failure<E>, R> =>
    untilSchedule === undefined
      ? retried(self, undefined)
      : Effect.flatMap(getReference(Deadlines.current), (deadline) => retried(self, deadline))

  function retried<A, R>(self: Effect.Effect<A, E, R>, deadline: number | undefined) {
    return Effect.suspend(() => {
      const call = { attempt: 0, delayMillis: 0, start: 0, refused: false }
      const timedOut = (why: string) =>
        new ModelError.TimeoutError({ provider, message: `${label}: attempt ${call.attempt} ${why}` })

      // The attempt's own limit: its timeout, and whatever is left of the deadline (which the limiter inside reads, so
      // as not to send what could not be answered in time).
      const limited: Effect.Effect<A, Failure<E>, R> = timeout === undefined && maxElapsed === undefined
        ? self
        : Effect.flatMap(Clock.currentTimeMillis, (now) => {
          const limit = Deadlines.attemptLimit(timeout, maxElapsed, call.start, now)
          return limit._tag === "Expired"
            ? Effect.fail(timedOut(limit.why))
            : Effect.timeoutOrElse(maxElapsed === undefined ? self : Deadlines.by(self, call.start + maxElapsed), {
              duration: Duration.millis(limit.millis),
              orElse: () => Effect.fail(timedOut(limit.why))
            })
        })

      // The attempt's span is the parent of whatever the acquisition traces (an HTTP client's span, say).
      const attempt = Effect.suspend(() => {
        call.attempt++
        return Effect.tapError(
          Retried.attempt(call.attempt, limited),
          (error) => Effect.annotateCurrentSpan(failureAttributes(policy, error))
        ).pipe(
          Effect.withSpan(`${name}.attempt`, {
            attributes: { ...attributes, "retry.attempt": call.attempt, "retry.delay_ms": call.delayMillis }
          }, noTrace)
        )
      })

      // A wait that would cross the deadline is not started; each retry is logged, counted and handed to onRetry.
      const chosen = deadline === undefined ? schedule : untilSchedule!
      const bounded = maxElapsed === undefined && deadline === undefined
        ? chosen
        : Schedule.while(
          chosen,
          ({ output }) =>
            Effect.map(
              Clock.currentTimeMillis,
              (now) => Deadlines.waitEndsInTime(maxElapsed, call.start, deadline, now, Duration.toMillis(output.delay))
            )
        )
      const admitted = budget === undefined ?
        bounded :
        Schedule.while(bounded, ({ input }) =>
          Effect.map(budget.admit(input), (granted) => {
            call.refused = !granted
            return granted
          }))
      const reported = Schedule.tap(admitted, ({ output: step }) => {
        call.delayMillis = roundedMillis(step.delay)
        const { annotations, message } = retryLine(label, policy, step, secrets)
        return Effect.all([
          Effect.logWarning(message).pipe(Effect.annotateLogs(annotations)),
          Metric.update(Metric.withAttributes(retriesTotal, { operation: name, reason: errorTag(step.error) }), 1),
          Metric.update(delaysMetric, Duration.toMillis(step.delay)),
          onRetry === undefined ? Effect.void : onRetry(step)
        ], { discard: true })
      })

      const retried = Effect.retry(attempt, reported)
      const budgeted = budget === undefined ? retried : Effect.andThen(
        budget.firstAttempt,
        Effect.catch(
          retried,
          (error) => Effect.fail(call.refused ? exhausted(label, budget, error, secrets) : error)
        )
      )

      // Counted once the call settles; an interrupted call is not counted.
      const counted = Effect.onExit(
        budgeted,
        (exit) =>
          Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
            ? Effect.void
            : Effect.andThen(
              Metric.update(attemptsMetric, call.attempt),
              Effect.annotateCurrentSpan("retry.attempts", call.attempt)
            )
      )
      return Effect.flatMap(Clock.currentTimeMillis, (now) => {
        call.start = now
        return counted
      }).pipe(Effect.withSpan(name, { attributes }, noTrace))
    })
  }
}

// A span's stack trace costs a capture per call and lands in every failure's cause; the spans' names say where.
const noTrace = { captureStackTrace: false } as const

// Metrics ---------------------------------------------------------------------

/**
 * Retries, by `reason` (the error's tag) and `operation`.
 *
 * @category metrics
 * @since 1.0.0
 */
export const retriesTotal = Metric.counter("effect_retry_layer_retries_total", {
  description: "Retries made, by the tag of the error that caused them"
})

/**
 * Attempts per call, by `operation`.
 *
 * @category metrics
 * @since 1.0.0
 */
export const attempts = Metric.histogram("effect_retry_layer_attempts", {
  description: "Attempts per call, the first included",
  boundaries: Metric.linearBoundaries({ start: 1, width: 1, count: 10 })
})

/**
 * Waits before retries, in milliseconds, by `operation`.
 *
 * @category metrics
 * @since 1.0.0
 */
export const retryDelays = Metric.histogram("effect_retry_layer_retry_delay_ms", {
  description: "Waits before retries, in milliseconds",
  boundaries: Metric.exponentialBoundaries({ start: 10, factor: 2, count: 16 })
})
