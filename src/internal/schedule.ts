import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import type * as Retryable from "../core/Retryable.js"
import type { RetryPolicy, RetryStep } from "../core/RetryPolicy.js"
import { allows, classifyUnder, delayFor } from "../core/RetryPolicy.js"

/**
 * The schedule of a policy whose call-level fields the caller honours itself.
 *
 * @internal
 */
export const fromPolicy = <E>(p: RetryPolicy): Schedule.Schedule<RetryStep<E>, E> => {
  const delays = Schedule.recurs(p.maxAttempts - 1).pipe(
    Schedule.intersect(Schedule.identity<Judged<E>>()),
    Schedule.whileInput(({ classification }: Judged<E>) => allows(p, classification)),
    Schedule.addDelayEffect(([retries, { classification }]) =>
      p.jitter === "none"
        ? Effect.succeed(delayFor(p, retries + 1, classification, 0))
        : Effect.map(Random.next, (random) => delayFor(p, retries + 1, classification, random))
    )
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

interface Judged<E> {
  readonly error: E
  readonly classification: Retryable.RetryClassification
}
