import * as Duration from "effect/Duration"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import type * as Retryable from "../Retryable.js"
import type { RetryPolicy, RetryStep } from "../RetrySchedule.js"
import { backoff, classifyUnder } from "../RetrySchedule.js"

/**
 * The schedule of a policy whose call-level fields the caller honours itself.
 *
 * @internal
 */
export const fromPolicy = <E>(p: RetryPolicy): Schedule.Schedule<RetryStep<E>, E> => {
  const delays = Schedule.recurs(p.maxAttempts - 1).pipe(
    Schedule.addDelay((retries) => backoff(p, retries + 1)),
    Schedule.intersect(Schedule.identity<Judged<E>>()),
    Schedule.whileInput(({ classification }: Judged<E>) => allows(p, classification)),
    // The hint goes on after the cap: a server's hint is honoured even past `maxDelay`.
    Schedule.modifyDelay(([, { classification }], delay) => {
      if (classification._tag === "Permanent" || Option.isNone(classification.retryAfter)) return delay
      return p.retryAfter === "exact"
        ? classification.retryAfter.value
        : Duration.max(delay, classification.retryAfter.value)
    }),
    p.jitter === "additive" ? Schedule.jitteredWith({ min: 1, max: 1.1 }) : identity
  )
  // `delays` reads the final (floored, jittered) wait back out of the decision.
  return Schedule.delays(delays).pipe(
    Schedule.intersect(Schedule.identity<Judged<E>>()),
    Schedule.intersect(Schedule.count),
    Schedule.map(([[delay, { classification, error }], n]): RetryStep<E> => ({
      attempt: n + 1,
      error,
      classification,
      delay
    })),
    // Each failure is classified once, as it comes in; every step of the schedule reads that.
    Schedule.mapInput((error: E): Judged<E> => ({ error, classification: classifyUnder(p, error) }))
  )
}

/**
 * Whether a policy allows another attempt after a failure so classified, ignoring the attempt count.
 *
 * @internal
 */
export const allows = (policy: RetryPolicy, classification: Retryable.RetryClassification): boolean => {
  if (classification._tag === "Permanent") return false
  const max = policy.maxRetryAfter
  return max === undefined || Option.match(classification.retryAfter, {
    onNone: () => true,
    onSome: (hint) => Duration.lessThanOrEqualTo(hint, max)
  })
}

interface Judged<E> {
  readonly error: E
  readonly classification: Retryable.RetryClassification
}
