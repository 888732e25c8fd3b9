/**
 * The retry policy and the `Schedule` it builds.
 *
 * `RetrySchedule.make(policy)` is an ordinary Effect `Schedule` whose input is
 * the failed error, so it works with `Effect.retry` and composes with Effect's
 * own combinators (`Schedule.upTo`, `Schedule.intersect`, `Schedule.tapInput`, ...).
 * It recurs while the error classifies itself as `Transient`, at most
 * `maxAttempts - 1` times, and waits
 * `max(min(baseDelay * factor^(n-1), maxDelay), retryAfter)` before retry `n`,
 * plus jitter that only ever adds. Randomness comes from the `Random` service
 * and time from `Clock`, so `TestClock` and a seeded `Random` reproduce every
 * schedule exactly. Each step sees the failed error, the attempt and the time
 * elapsed, as Effect 4's schedules do.
 *
 * @example
 * ```ts
 * import { Effect, Schedule } from "effect"
 * import { RetrySchedule } from "effect-retry-layer"
 *
 * const schedule = RetrySchedule.make({ maxAttempts: 5, baseDelay: "200 millis" }).pipe(
 *   Schedule.upTo("10 seconds")
 * )
 * declare const call: Effect.Effect<string, unknown>
 * const resilient = Effect.retry(call, schedule)
 * ```
 *
 * @since 1.0.0
 */
import type * as Schedule from "effect/Schedule"
import type { RetryPolicy, RetryStep } from "./core/RetryPolicy.js"
import { honouredBy, policy } from "./core/RetryPolicy.js"
import * as Schedules from "./internal/schedule.js"

export * from "./core/RetryPolicy.js"

/**
 * The schedule for a policy. Its input is the failed error; its output a
 * {@link RetryStep}.
 *
 * @category schedules
 * @since 1.0.0
 */
export const make = <E = unknown>(
  input: RetryPolicy | RetryPolicy.Input = {}
): Schedule.Schedule<RetryStep<E>, E> => Schedules.fromPolicy(honouredBy(policy(input), "RetrySchedule.make", []))
