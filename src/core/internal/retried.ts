/**
 * Whether the running attempt retries a call that was sent before: the retry layers of both lines mark each
 * retried attempt, and the limiter serves a retry of a call with a deadline ahead of the first attempts waiting
 * in its class and tenant (see `keepsPlace` in internal/dispatcher).
 */
import * as Effect from "effect/Effect"
import { getReference, locally, type Reference, reference } from "../../internal/compat.js"

const current: Reference<boolean> = reference<boolean>("effect-retry-layer/Retried/current", () => false)

/**
 * Whether the current fiber's attempt is a retry.
 *
 * @internal
 */
export const get: Effect.Effect<boolean> = Effect.suspend(() => getReference(current))

/**
 * The `attempt`th attempt of a call (from 1): `self`, marked a retry after the first. Each line's retry layer
 * runs every attempt through it.
 *
 * @internal
 */
export const attempt = <A, E, R>(attempt: number, self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  attempt > 1 ? locally(self, current, true) : self
