/**
 * Retries the acquisition of any resource (an HTTP response, a database
 * connection, a model stream) with a {@link RetrySchedule} policy, with the
 * same behaviour `RetryingModel` gives model calls.
 *
 * - Classification: only errors that classify themselves as transient are
 *   retried (plus rate-limit look-alikes under `detectRateLimits`); the
 *   server's `retryAfter` is a floor for the wait.
 * - Deadlines: `timeout` limits each attempt (a `TimeoutError`, transient);
 *   `maxElapsed` limits the whole call: a wait that would cross it is not
 *   started (the last error comes back at once), and an attempt still running
 *   when it passes is cut off with a `TimeoutError`.
 * - Budget: with `budget`, every retry must be admitted by a shared
 *   {@link RetryBudget}; a refusal returns a `RetryBudgetExhaustedError` at once.
 * - Observability: a span per call (`name`) and per attempt (`name.attempt`)
 *   with `retry.attempt`, `retry.delay_ms` (the wait before the attempt),
 *   `retry.classification`, `error.type` and `http.response.status_code`; the
 *   metrics `effect_retry_layer_retries_total` (by `reason`, the error tag),
 *   `effect_retry_layer_attempts` (per call) and
 *   `effect_retry_layer_retry_delay_ms`; a warning log per retry; and the
 *   `onRetry` hook, called once per retry before its wait.
 *
 * The happy path allocates no schedule: the driver is built at the first failure.
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
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import * as Metric from "effect/Metric"
import * as MetricBoundaries from "effect/MetricBoundaries"
import type * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Tracer from "effect/Tracer"
import * as Deadlines from "./core/internal/deadline.js"
import { check, checked } from "./core/internal/invalidOptions.js"
import { errorTag, exhausted, failureAttributes, retryLine } from "./core/internal/report.js"
import * as Retried from "./core/internal/retried.js"
import * as ModelError from "./core/ModelError.js"
import type * as RetryBudget from "./core/RetryBudget.js"
import { retryLazily } from "./internal/retry.js"
import * as Schedules from "./internal/schedule.js"
import * as RetrySchedule from "./RetrySchedule.js"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options<E> {
  /** Names the spans (`name`, `name.attempt`) and the metrics' `operation` label. Default `"retryAcquisition"`. */
  readonly name?: string
  /** The `provider` of the errors this layer makes (a timeout, a budget refusal). Default the name. */
  readonly provider?: string
  /** Starts each log line, e.g. `"anthropic/claude-sonnet-4-5"`. Default the name. */
  readonly label?: string
  /** Extra attributes for both spans, e.g. the model. */
  readonly attributes?: Readonly<Record<string, unknown>>
  readonly budget?: RetryBudget.Service
  /** Called once per retry, before its wait, with the step the schedule took. */
  readonly onRetry?: (step: RetrySchedule.RetryStep<E>) => Effect.Effect<void>
  /**
   * Values (API keys, tokens) scrubbed from every error message this layer quotes, in its log lines and in its
   * own errors, should an error echo them. Anthropic's and OpenAI's key formats and AWS access key ids are
   * scrubbed without being named here.
   */
  readonly secrets?: ReadonlyArray<Redacted.Redacted>
}

/**
 * The failures of a retried acquisition: its own, an attempt or deadline
 * timeout, or a refusal of the budget.
 *
 * @category models
 * @since 0.1.0
 */
export type Failure<E> = E | ModelError.TimeoutError | ModelError.RetryBudgetExhaustedError

/**
 * @category combinators
 * @since 0.1.0
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
  ): Effect.Effect<A, Failure<E>, R> => retrying(RetrySchedule.policy(policy), options)(self)
)

/**
 * {@link retryAcquisition} with the policy validated once, for a function
 * applied to many effects (a layer's every call). (Long for one reason: what
 * is built once per policy, then per call, then at the first failure only,
 * nested so that a call that succeeds at once builds nothing it does not use;
 * the overhead bench measures it.)
 *
 * @throws InvalidRetryPolicy when `policy` is not valid, InvalidOptions when an option is unknown or of the wrong kind
 * @category metrics
 * @since 0.1.0
 */
export const retrying = <E>(
  policy: RetrySchedule.RetryPolicy,
  input: Options<Failure<E>> = {}
) => {
  const options = checked<Options<Failure<E>>>("RetryAcquisition", input, {
    name: check.string,
    provider: check.string,
    label: check.string,
    attributes: check.any,
    budget: check.any,
    onRetry: check.function,
    secrets: check.secrets
  })
  const { attributes, label, maxElapsed, name, provider, timeout } = Deadlines.acquisitionSettings(policy, options)
  const { budget, onRetry, secrets = [] } = options
  const schedule = Schedules.fromPolicy<Failure<E>>(
    RetrySchedule.honouredBy(policy, options.name ?? "RetryAcquisition", ["timeout", "maxElapsed", "untilDeadline"])
  )
  // With `untilDeadline`, the schedule of a call with a deadline set around it: the deadline ends its retries.
  const untilSchedule = policy.untilDeadline
    ? Schedules.fromPolicy<Failure<E>>(Deadlines.untilDeadline(policy))
    : undefined
  const attemptsMetric = Metric.tagged(attempts, "operation", name)
  const delaysMetric = Metric.tagged(retryDelays, "operation", name)
  const retriesMetric = Metric.tagged(retriesTotal, "operation", name)

  return <A, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, Failure<E>, R> =>
    // Fiber refs are read once per call. A span costs microseconds (~2 us to make, ~3.5 us more to provide as the
    // parent of the spans inside), and Effect builds a no-op one even with tracing off; so with tracing off no
    // span, attribute or annotation is built, and `Effect.withTracerEnabled(false)` is a real opt-out for hot paths.
    Effect.withFiberRuntime((fiber) => {
      const tracing = fiber.getFiberRef(FiberRef.currentTracerEnabled)
      const metricTags = fiber.getFiberRef(FiberRef.currentMetricLabels)
      const deadline = untilSchedule === undefined ? undefined : fiber.getFiberRef(Deadlines.current)
      // Per call. `start` is only read when there is a deadline, `span` only when tracing.
      const call = {
        attempt: 0,
        delayMillis: 0,
        start: 0,
        refused: false,
        span: undefined as Tracer.Span | undefined
      }

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
            : Effect.timeoutFail(maxElapsed === undefined ? self : Deadlines.by(self, call.start + maxElapsed), {
              duration: Duration.millis(limit.millis),
              onTimeout: () => timedOut(limit.why)
            })
        })

      // The attempt's span is the parent of whatever the acquisition traces (an HTTP client's span, say).
      const attempt = tracing
        ? Effect.suspend(() => {
          call.attempt++
          const run = Retried.attempt(call.attempt, limited)
          return Effect.tapError(run, (error) => annotate(failureAttributes(policy, error))).pipe(
            Effect.withSpan(`${name}.attempt`, {
              attributes: { ...attributes, "retry.attempt": call.attempt, "retry.delay_ms": call.delayMillis },
              ...(call.span === undefined ? {} : { parent: call.span }),
              captureStackTrace: false
            })
          )
        })
        : Effect.suspend(() => {
          call.attempt++
          return Retried.attempt(call.attempt, limited)
        })

      // Built at the first failure only: deadline, budget, then the log, metrics and hook of a retry.
      const retries = () => {
        const checked = (deadline === undefined ? schedule : untilSchedule!).pipe(
          maxElapsed === undefined && deadline === undefined ?
            (s) => s :
            Schedule.checkEffect((_, step) =>
              Effect.map(Clock.currentTimeMillis, (now) =>
                Deadlines.waitEndsInTime(maxElapsed, call.start, deadline, now, Duration.toMillis(step.delay)))
            ),
          budget === undefined ?
            (s) =>
              s :
            Schedule.checkEffect((error: Failure<E>) =>
              Effect.map(budget.admit(error), (granted) => {
                call.refused = !granted
                return granted
              })
            )
        )
        return Schedule.onDecision(checked, (step, decision) => {
          if (decision._tag !== "Continue") return Effect.void
          call.delayMillis = Math.round(Duration.toMillis(step.delay))
          return Effect.all([
            logRetry(label, policy, step, secrets),
            Metric.increment(Metric.tagged(retriesMetric, "reason", errorTag(step.error))),
            Metric.update(delaysMetric, Duration.toMillis(step.delay)),
            onRetry === undefined ? Effect.void : onRetry(step)
          ], { discard: true })
        })
      }

      const retried = retryLazily(attempt, retries)
      const budgeted = budget === undefined ? retried : Effect.zipRight(
        budget.firstAttempt,
        Effect.catchAll(
          retried,
          (error) => Effect.fail(call.refused ? exhausted(label, budget, error, secrets) : error)
        )
      )
      // Counted once the call settles; an interrupted call is not counted. `Effect.onExit` would count it too,
      // at ~0.5 us on every call for its uninterruptible region.
      const settled = () => {
        attemptsMetric.unsafeUpdate(call.attempt, metricTags)
        call.span?.attribute("retry.attempts", call.attempt)
      }
      const counted = Effect.matchCauseEffect(budgeted, {
        onFailure: (cause) => {
          settled()
          return Effect.failCause(cause)
        },
        onSuccess: (value) => {
          settled()
          return Effect.succeed(value)
        }
      })
      // The call's span is only made, not provided: the attempts name it as their parent, which saves a context
      // update per call.
      const run = tracing
        ? Effect.useSpan(name, { attributes, captureStackTrace: false }, (span) => {
          call.span = span
          return counted
        })
        : counted
      return maxElapsed === undefined
        ? run
        : Effect.flatMap(Clock.currentTimeMillis, (now) => {
          call.start = now
          return run
        })
    })
}

// Metrics ---------------------------------------------------------------------

/**
 * Retries, by `reason` (the error's tag) and `operation`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const retriesTotal = Metric.counter("effect_retry_layer_retries_total", {
  description: "Retries made, by the tag of the error that caused them"
})

/**
 * Attempts per call, by `operation`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const attempts = Metric.histogram(
  "effect_retry_layer_attempts",
  MetricBoundaries.linear({ start: 1, width: 1, count: 10 }),
  "Attempts per call, the first included"
)

/**
 * Waits before retries, in milliseconds, by `operation`.
 *
 * @category metrics
 * @since 0.1.0
 */
export const retryDelays = Metric.histogram(
  "effect_retry_layer_retry_delay_ms",
  MetricBoundaries.exponential({ start: 10, factor: 2, count: 16 }),
  "Waits before retries, in milliseconds"
)

// Internals -------------------------------------------------------------------

/**
 * `Effect.annotateCurrentSpan` without its cost when there is no span: it
 * builds a `NoSuchElementException` (stack trace included) each time, ~4.5 µs.
 */
const annotate = (attributes: Readonly<Record<string, unknown>>): Effect.Effect<void> =>
  Effect.map(Effect.serviceOption(Tracer.ParentSpan), (span) => {
    if (span._tag === "Some" && span.value._tag === "Span") {
      for (const key in attributes) span.value.attribute(key, attributes[key])
    }
  })

const logRetry = (
  label: string,
  policy: RetrySchedule.RetryPolicy,
  step: RetrySchedule.RetryStep<unknown>,
  secrets: ReadonlyArray<Redacted.Redacted>
) => {
  const { annotations, message } = retryLine(label, policy, step, secrets)
  return Effect.logWarning(message).pipe(Effect.annotateLogs(annotations))
}
