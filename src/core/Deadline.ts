/**
 * A call's deadline, for the limiter: a call that could not be answered
 * before it is not sent. When it asks for a send slot, the limiter estimates
 * when it would get one (the callers ahead of it in its line, at the rate
 * this process has been sending) and how long the answer takes (the round
 * trip it measures); past the deadline, the call fails at once with a
 * `ModelError.DeadlineError` that says both, and nothing is sent. A call
 * already waiting leaves the line when its deadline comes closer than one
 * answer's time, and a slot is never handed to a call that could no longer
 * be answered in time (the slot goes to the next in line).
 *
 * The deadline is the earliest of those set around the call: the retry
 * policy's `maxElapsed` (from the call's start), and {@link withDeadline}.
 * In the stack's layers a call with a deadline is retried until it, not
 * `maxAttempts` times (the retry policy's `untilDeadline`, on there unless
 * `maxAttempts` is set): each retry is admitted like the first attempt.
 *
 * @example
 * ```ts
 * import type { Effect } from "effect"
 * import { Deadline } from "effect-retry-layer"
 *
 * // a model call through the stack's layer, from an HTTP handler with 10 s left
 * declare const answerUser: Effect.Effect<string, Error>
 *
 * const reply = answerUser.pipe(Deadline.withDeadline("10 seconds"))
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import { type DurationInput, getReference, timeoutFail } from "../internal/compat.js"
import { by, current } from "./internal/deadline.js"
import { orDefect } from "./internal/invalidOptions.js"
import * as Fields from "./internal/optionFields.js"
import * as ModelError from "./ModelError.js"

/**
 * `self` with a deadline `within` from now (or the one already set, if earlier): the limiter does not send
 * a call in it that could not be answered by then, and `self` is cut off then with a
 * `ModelError.TimeoutError`. A `within` that is not a finite, positive duration is a defect,
 * `InvalidOptions`, when `self` runs.
 *
 * @category combinators
 * @since 0.1.0
 */
export const withDeadline: {
  (within: DurationInput): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ModelError.TimeoutError, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, within: DurationInput): Effect.Effect<A, E | ModelError.TimeoutError, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, within: DurationInput): Effect.Effect<A, E | ModelError.TimeoutError, R> =>
    orDefect(() => {
      const duration = readWithin(within)
      const millis = Duration.toMillis(duration)
      return Effect.flatMap(Clock.currentTimeMillis, (now) =>
        timeoutFail(
          by(self, now + millis),
          duration,
          () => new ModelError.TimeoutError({ provider: "Deadline", message: `the deadline of ${millis} ms passed` })
        ))
    })
)

const readWithin = Fields.argument("Deadline", "within", Fields.duration({ finite: true, positive: true }))

/**
 * The deadline set around the current fiber's calls, in epoch milliseconds (`undefined`: none).
 *
 * @category getters
 * @since 0.1.0
 */
export const get: Effect.Effect<number | undefined> = Effect.suspend(() => getReference(current))
