import type * as RateLimiter from "@effect/experimental/RateLimiter"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * Token buckets refilled by events rather than time, on top of
 * `@effect/experimental`'s `RateLimiterStore` (in memory, or Redis for many
 * processes), whose `tokenBucket` operation is atomic in both:
 *
 * - a bucket starts full (`limit`);
 * - taking `n` with `allowOverflow: false` succeeds only if `n` are there,
 *   and otherwise changes nothing (the result is negative);
 * - taking a negative amount adds it, which is how tokens are refunded.
 *
 * The refill interval is set so long that time never refills these buckets.
 * Amounts are kept in integer milli-tokens, as gRPC does: the Redis store's
 * script returns integer replies, which would truncate a fraction.
 * test/internal/tokens.test.ts pins this behaviour for both stores.
 *
 * @internal
 */
const never = Duration.millis(1e15)

const milli = (tokens: number) => Math.round(tokens * 1000)

/**
 * Takes `amount` tokens if they are there. Returns the balance after taking,
 * negative if they were not (and nothing was taken).
 *
 * @internal
 */
export const take = (
  store: RateLimiter.RateLimiterStore["Type"],
  key: string,
  amount: number,
  capacity: number
): Effect.Effect<number, RateLimiter.RateLimiterError> =>
  Effect.map(
    store.tokenBucket({ key, tokens: milli(amount), limit: milli(capacity), refillRate: never, allowOverflow: false }),
    (after) => after / 1000
  )

/**
 * The balance, without changing it.
 *
 * @internal
 */
export const balance = (
  store: RateLimiter.RateLimiterStore["Type"],
  key: string,
  capacity: number
): Effect.Effect<number, RateLimiter.RateLimiterError> => take(store, key, 0, capacity)

/**
 * Adds `amount` tokens, up to `capacity`.
 *
 * The store cannot cap an addition, so an overshoot is taken back in a second
 * step. Another process may take tokens in between, in which case slightly
 * more than the overshoot is removed: the error is at most one refund, and on
 * the side of fewer retries.
 *
 * @internal
 */
export const refund = (
  store: RateLimiter.RateLimiterStore["Type"],
  key: string,
  amount: number,
  capacity: number
): Effect.Effect<void, RateLimiter.RateLimiterError> => {
  const limit = milli(capacity)
  const add = (tokens: number) => store.tokenBucket({ key, tokens, limit, refillRate: never, allowOverflow: true })
  return Effect.flatMap(add(-milli(amount)), (after) => after > limit ? Effect.asVoid(add(after - limit)) : Effect.void)
}
