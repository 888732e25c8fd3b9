/**
 * The recommended stack's policies, built one way for its three layers
 * (`ResilientModel`, `ResilientLanguageModel`, `ResilientHttpClient`): the options of each part
 * read (`false` turns it off), then the limiter, the breaker and the budget
 * made, and the attempt policy they compose to.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as AdaptiveRateLimiter from "../AdaptiveRateLimiter.js"
import * as CircuitBreaker from "../CircuitBreaker.js"
import type * as FleetStore from "../FleetStore.js"
import * as Policy from "../Policy.js"
import type * as ResilientModel from "../ResilientModel.js"
import * as RetryBudget from "../RetryBudget.js"
import type { InvalidOptions } from "./options.js"
import { check } from "./options.js"

/**
 * The keys of `ResilientModel.Options`, which every layer of the stack takes (each part's own options are checked
 * by that part).
 *
 * @internal
 */
export const fields = {
  retry: check.any,
  budget: check.any,
  breaker: check.any,
  limiter: check.any,
  secrets: check.secrets
} as const

/** @internal */
export interface Parts {
  readonly budget: RetryBudget.Options | undefined
  readonly breaker: CircuitBreaker.Options | undefined
  readonly limiter: AdaptiveRateLimiter.Options | undefined
}

/**
 * Each part's options, read (throws `InvalidOptions`: call it inside the layer's validation).
 *
 * @internal
 */
export const parts = (options: ResilientModel.Options): Parts => ({
  budget: options.budget === false ? undefined : RetryBudget.options(options.budget),
  breaker: options.breaker === false ? undefined : CircuitBreaker.options(options.breaker),
  limiter: options.limiter === false ? undefined : AdaptiveRateLimiter.options(options.limiter)
})

/**
 * The policies, the circuit named after what it guards unless its `key` says otherwise.
 *
 * @internal
 */
export const make = (
  parts: Parts,
  guarded: { readonly name: string; readonly model?: string }
): Effect.Effect<ResilientModel.Policies, InvalidOptions, FleetStore.FleetStore | Scope.Scope> =>
  Effect.gen(function*() {
    const limiter = parts.limiter === undefined ? undefined : yield* AdaptiveRateLimiter.make(parts.limiter)
    const breaker = parts.breaker === undefined
      ? undefined
      : yield* CircuitBreaker.make(CircuitBreaker.keyed(parts.breaker, guarded))
    const budget = parts.budget === undefined ? undefined : yield* RetryBudget.make(parts.budget)
    return { budget, breaker, limiter }
  })

/**
 * One attempt under the stack: the breaker outside the limiter (an open circuit fails a call before it takes a
 * send slot).
 *
 * @internal
 */
export const attempt = (policies: ResilientModel.Policies): Policy.Policy =>
  Policy.compose(
    ...(policies.breaker === undefined ? [] : [policies.breaker]),
    ...(policies.limiter === undefined ? [] : [policies.limiter])
  )
