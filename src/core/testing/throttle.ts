/**
 * A throttling server's admission rule, written once: the simulated server of both lines' fleet benches and the
 * loopback servers of their tests admit by it.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import type { DurationInput } from "../../internal/compat.js"

/**
 * Requests per second (`Infinity` for a server that never throttles), and later capacities from `at` (time since
 * the first request) on.
 *
 * @category models
 * @since 0.1.0
 */
export interface Capacity {
  readonly capacity: number
  readonly changes?: ReadonlyArray<{ readonly at: DurationInput; readonly capacity: number }>
}

/**
 * The server's admission rule on its own, for a server outside Effect (a
 * loopback HTTP handler, say) that should behave like {@link make}: a token
 * bucket `burst` deep, full at the first request and refilled continuously at
 * `capacity` per second. `take(now)` (epoch milliseconds, never decreasing)
 * takes a token and gives `undefined`, or gives the milliseconds until there
 * is one.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const tokenBucket = (
  capacity: number | ((sinceStart: number) => number),
  burst = typeof capacity === "number" ? capacity : capacity(0)
): (now: number) => number | undefined => {
  const rate = typeof capacity === "number" ? () => capacity : capacity
  let tokens = burst
  let at: number | undefined
  let start = 0
  return (now) => {
    if (at === undefined) start = now
    const perMillis = rate(now - start) / 1000
    if (perMillis === Infinity) return undefined
    const available = at === undefined ? tokens : Math.min(burst, tokens + (now - at) * perMillis)
    at = now
    if (available >= 1) {
      tokens = available - 1
      return undefined
    }
    tokens = available
    return (1 - available) / perMillis
  }
}

/**
 * The capacity at each time since the first request, from `capacity` and `changes`.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const capacityAt = (options: Capacity): (sinceStart: number) => number => {
  const changes = (options.changes ?? [])
    .map((c) => ({ at: Duration.toMillis(c.at), capacity: c.capacity }))
    .sort((a, b) => a.at - b.at)
  return (sinceStart) => {
    let capacity = options.capacity
    for (const change of changes) if (change.at <= sinceStart) capacity = change.capacity
    return capacity
  }
}
