import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import type { RetryPolicy, RetryStep } from "../core/RetryPolicy.js"
import { allows, classifyUnder, delayFor } from "../core/RetryPolicy.js"

/**
 * The schedule of a policy whose call-level fields the caller honours itself: one step per failure, which
 * sees the error, the attempt that failed and the time elapsed (Effect 4's schedule metadata).
 *
 * @internal
 */
export const fromPolicy = <E>(p: RetryPolicy): Schedule.Schedule<RetryStep<E>, E> =>
  Schedule.fromStepWithMetadata(Effect.succeed(({ attempt, input }: Schedule.InputMetadata<E>) => {
    // Each failure is classified once, as it comes in; the step it makes carries that to whoever reads it.
    const classification = classifyUnder(p, input)
    if (attempt >= p.maxAttempts || !allows(p, classification)) {
      return Cause.done<RetryStep<E>>({ attempt, error: input, classification, delay: Duration.zero })
    }
    const step = (random: number): [RetryStep<E>, Duration.Duration] => {
      const delay = delayFor(p, attempt, classification, random)
      return [{ attempt, error: input, classification, delay }, delay]
    }
    return p.jitter === "none" ? Effect.succeed(step(0)) : Effect.map(Random.next, step)
  }))
