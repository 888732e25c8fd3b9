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

import type * as Redacted from "effect/Redacted"
import { type Tag, tag } from "../../internal/compat.js"
import * as RetryBudget from "../RetryBudget.js"
import { honouredBy, policy as readPolicy, RetryPolicy } from "../RetryPolicy.js"
import type { InvalidOptions } from "./invalidOptions.js"
import { check, checked } from "./invalidOptions.js"

/**
 * The options of every layer of the stack: the retry's policy and each part's options (`false` turns it off).
 * (Public: the stack's layers declare their options and policies as these.)
 */
export interface Options {
  readonly retry?: RetryPolicy | RetryPolicy.Input
  readonly budget?: RetryBudget.Options | RetryBudget.Options.Input | false
  readonly breaker?: CircuitBreaker.Options | CircuitBreaker.Options.Input | false
  readonly limiter?: AdaptiveRateLimiter.Options | AdaptiveRateLimiter.Options.Input | false
  /**
   * Values scrubbed from every message the stack quotes (log lines, its own errors), should an error echo
   * them; the providers' key formats are always scrubbed.
   */
  readonly secrets?: ReadonlyArray<Redacted.Redacted>
}

/**
 * The policies of a stack: each one's `state` (and the rest of its interface), `undefined` where the stack's
 * option turned it off.
 */
export interface Policies {
  readonly budget: RetryBudget.Service | undefined
  readonly breaker: CircuitBreaker.CircuitBreaker | undefined
  readonly limiter: AdaptiveRateLimiter.AdaptiveRateLimiter | undefined
}

/** The key of a stack's policies. */
export const Policies: Tag<Policies, Policies> = tag<Policies>(
  // the key is what "Service not found" prints: it says what provides it
  "effect-retry-layer/ResilientModel/Policies (provided by the stack's layers: ResilientModel.layer, ResilientLanguageModel.layer, ResilientHttpClient.layer, an Effect 4 provider's layer)"
)

/**
 * The keys of `Options`, which every layer of the stack takes (each part's own options are checked
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
export const parts = (options: Pick<Options, "budget" | "breaker" | "limiter">): Parts => ({
  budget: options.budget === false ? undefined : RetryBudget.options(options.budget),
  breaker: options.breaker === false ? undefined : CircuitBreaker.options(options.breaker),
  limiter: options.limiter === false ? undefined : AdaptiveRateLimiter.options(options.limiter)
})

/**
 * A stack layer's options read (throws `InvalidOptions` or `InvalidRetryPolicy`: call it inside the layer's
 * validation): its keys checked (the stack's and `extra`), the retry policy, whose `timeout` and `maxElapsed`
 * the layer's retry honours, and each part's options.
 *
 * @internal
 */
export const read = <O extends Options>(
  of: string,
  options: O,
  extra: { readonly [K in Exclude<keyof O, keyof Options>]-?: (value: unknown) => string | undefined }
): { readonly policy: RetryPolicy; readonly parts: Parts } => {
  checked(of, options, { ...fields, ...extra } as never)
  const read = parts(options)
  return {
    policy: honouredBy(retryPolicy(options.retry, read.limiter !== undefined), of, [
      "timeout",
      "maxElapsed",
      "untilDeadline"
    ]),
    parts: read
  }
}

/**
 * The stack's retry policy: `input` read, and with the limiter on (`limited`) and neither `maxAttempts` nor
 * `untilDeadline` set, `untilDeadline`: the limiter admits a call with a deadline only if it can be answered
 * in time, so the deadline, not a count, ends its retries (the budget still bounds the fleet's).
 *
 * @internal
 */
export const retryPolicy = (input: RetryPolicy | RetryPolicy.Input | undefined, limited: boolean): RetryPolicy => {
  const policy = readPolicy(input)
  return limited && !(input instanceof RetryPolicy) && input?.maxAttempts === undefined &&
      input?.untilDeadline === undefined
    ? RetryPolicy.from({ ...policy, untilDeadline: true })
    : policy
}

/**
 * The policies, the circuit named after what it guards unless its `key` says otherwise.
 *
 * @internal
 */
export const make = (
  parts: Parts,
  guarded: { readonly name: string; readonly model?: string }
): Effect.Effect<Policies, InvalidOptions, FleetStore.FleetStore | Scope.Scope> =>
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
export const attempt = (policies: Policies): Policy.Policy =>
  Policy.compose(
    ...(policies.breaker === undefined ? [] : [policies.breaker]),
    ...(policies.limiter === undefined ? [] : [policies.limiter])
  )
