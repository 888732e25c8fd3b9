/**
 * The recommended stack in one layer: retries with a shared budget, outside a
 * circuit breaker, outside an adaptive rate limiter, around the model in context.
 *
 * ```
 * RetryingModel (+ RetryBudget) -> CircuitBreaker -> AdaptiveRateLimiter -> your adapter
 * ```
 *
 * Why this order:
 * - Retries outermost: each attempt goes through the breaker and the limiter,
 *   so a retry is paced like any send and counted like any call; the budget,
 *   a retry decision, sits with the retries.
 * - The breaker outside the limiter: an open circuit fails a call at once,
 *   before it takes a send token, and its `CircuitOpenError` carries the time
 *   until the next probe, which the retries above wait out exactly.
 * - The limiter innermost: it paces what is actually sent (probes included)
 *   and sees the provider's throttling errors directly.
 *
 * Each part can be turned off with `false`. The budget and the limiter keep
 * their state in the `RateLimiterStore` in context: `RateLimiter.layerStoreMemory`
 * for one process, `@effect/experimental/RateLimiter/Redis` for a fleet.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "@effect/experimental"
 * import { Layer } from "effect"
 * import { ResilientModel } from "effect-retry-layer"
 *
 * declare const AnthropicLive: Layer.Layer<import("effect-retry-layer").CompletionModel.CompletionModel>
 *
 * const Model = ResilientModel.layer({ retry: { maxAttempts: 6 }, budget: { key: "anthropic" } }).pipe(
 *   Layer.provide(AnthropicLive),
 *   Layer.provide(RateLimiter.layerStoreMemory)
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as RateLimiter from "@effect/experimental/RateLimiter"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as AdaptiveRateLimiter from "./AdaptiveRateLimiter.js"
import * as CircuitBreaker from "./CircuitBreaker.js"
import * as CompletionModel from "./CompletionModel.js"
import * as RetryBudget from "./RetryBudget.js"
import * as RetryingModel from "./RetryingModel.js"
import * as RetrySchedule from "./RetrySchedule.js"

/**
 * @since 0.1.0
 */
export interface Options {
  readonly retry?: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input
  readonly budget?: RetryBudget.Options | false
  readonly breaker?: CircuitBreaker.Options | false
  readonly limiter?: AdaptiveRateLimiter.Options | false
}

/**
 * @throws InvalidRetryPolicy when `options.retry` is not valid
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<
  CompletionModel.CompletionModel,
  never,
  CompletionModel.CompletionModel | RateLimiter.RateLimiterStore
> => {
  const policy = RetrySchedule.policy(options.retry)
  return Layer.scoped(
    CompletionModel.CompletionModel,
    Effect.gen(function*() {
      const inner = yield* CompletionModel.CompletionModel
      const limited = options.limiter === false
        ? inner
        : (yield* AdaptiveRateLimiter.make(inner, options.limiter)).model
      const guarded = options.breaker === false ? limited : yield* CircuitBreaker.make(limited, options.breaker)
      const budget = options.budget === false ? undefined : yield* RetryBudget.make(options.budget)
      return RetryingModel.make(guarded, policy, budget === undefined ? {} : { budget })
    })
  )
}
