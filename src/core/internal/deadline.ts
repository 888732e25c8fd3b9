/**
 * A call's deadline as the limiter reads it, and a retried acquisition's settings and an attempt's own limit, the
 * same on both lines: its `timeout`, and whatever
 * is left of the call's deadline (`maxElapsed` from the call's `start`), with what the attempt's `TimeoutError` says
 * when it is reached.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { getReference, locally, type Reference, reference } from "../../internal/compat.js"
import { RetryPolicy } from "../RetryPolicy.js"
import { maxAttemptsBound } from "./attempts.js"

/**
 * The deadline of the current fiber's calls, in epoch milliseconds (`undefined`: none), which the limiter reads
 * (`Deadline.get`).
 *
 * @internal
 */
export const current: Reference<number | undefined> = reference<number | undefined>(
  "effect-retry-layer/Deadline/current",
  () => undefined
)

/**
 * `self` with the deadline `at` (epoch milliseconds), or the one already set if earlier; nothing is cut off
 * (a retry's attempts are cut off by their own limit).
 *
 * @internal
 */
export const by = <A, E, R>(self: Effect.Effect<A, E, R>, at: number): Effect.Effect<A, E, R> =>
  Effect.flatMap(getReference(current), (set) => locally(self, current, set === undefined ? at : Math.min(set, at)))

/** @internal */
export type AttemptLimit =
  | { readonly _tag: "Expired"; readonly why: string }
  | { readonly _tag: "Limit"; readonly millis: number; readonly why: string }

/**
 * The limit of an attempt starting at `now`; only called when `timeout` or `maxElapsed` is set.
 *
 * @internal
 */
export const attemptLimit = (
  timeout: number | undefined,
  maxElapsed: number | undefined,
  start: number,
  now: number
): AttemptLimit => {
  const left = maxElapsed === undefined ? Infinity : start + maxElapsed - now
  if (left <= 0) return { _tag: "Expired", why: `not started: the deadline of ${maxElapsed} ms passed` }
  const byDeadline = timeout === undefined || left < timeout
  return byDeadline
    ? { _tag: "Limit", millis: left, why: `cut off by the deadline of ${maxElapsed} ms` }
    : { _tag: "Limit", millis: timeout, why: `timed out after ${timeout} ms` }
}

/**
 * What a retried acquisition reads of its options and policy, with their defaults: its names (the spans' and
 * metrics' `name`, the log lines' `label`, the errors' `provider`), and its limits in milliseconds.
 *
 * @internal
 */
export const acquisitionSettings = (
  policy: { readonly timeout?: Duration.Duration | undefined; readonly maxElapsed?: Duration.Duration | undefined },
  options: {
    readonly name?: string | undefined
    readonly label?: string | undefined
    readonly provider?: string | undefined
    readonly attributes?: Readonly<Record<string, unknown>> | undefined
  }
) => {
  const name = options.name ?? "retryAcquisition"
  return {
    name,
    label: options.label ?? name,
    provider: options.provider ?? name,
    attributes: options.attributes ?? {},
    timeout: policy.timeout === undefined ? undefined : Duration.toMillis(policy.timeout),
    maxElapsed: policy.maxElapsed === undefined ? undefined : Duration.toMillis(policy.maxElapsed)
  }
}

/**
 * What a call with a deadline set around it retries under when `policy.untilDeadline` is set: as many attempts
 * as a policy may have, which the deadline ends.
 *
 * @internal
 */
export const untilDeadline = (policy: RetryPolicy): RetryPolicy =>
  RetryPolicy.from({ ...policy, maxAttempts: maxAttemptsBound })

/**
 * Whether a wait of `delay` from `now` ends in time: within the policy's `maxElapsed` of the call's `start`, and
 * by the `deadline` set around the call (with `untilDeadline`). A wait that would not is not started.
 *
 * @internal
 */
export const waitEndsInTime = (
  maxElapsed: number | undefined,
  start: number,
  deadline: number | undefined,
  now: number,
  delay: number
): boolean =>
  (maxElapsed === undefined || now - start + delay <= maxElapsed) && (deadline === undefined || now + delay <= deadline)
