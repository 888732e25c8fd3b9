/**
 * The recommended stack in one layer: retries with a shared budget, outside a
 * circuit breaker, outside an adaptive rate limiter, around the model in context.
 *
 * ```
 * RetryingModel (+ RetryBudget) -> CircuitBreaker -> AdaptiveRateLimiter -> your adapter
 * ```
 *
 * Each piece has one job, and the defaults are chosen so that the stack never
 * does worse than plain retries (bench/fleet.ts measures it against them):
 * - the limiter answers throttling (429, 529, throttling codes) by pacing the
 *   whole fleet; it starts in slow start, so a large batch does not open with
 *   a wave of 429s;
 * - the budget bounds retries of failures to half the first attempts (plus 10
 *   a second), so an outage is not tripled by retries; throttled retries are
 *   free, being the limiter's job;
 * - the breaker opens only when half of the last 100 calls failed, not on a
 *   short run of bad luck.
 *
 * Why this order:
 * - Retries outermost: each attempt goes through the breaker and the limiter,
 *   so a retry is paced like any send and counted like any call; the budget,
 *   a retry decision, sits with the retries.
 * - The breaker outside the limiter: an open circuit fails a call at once,
 *   before it takes a send slot, and its `CircuitOpenError` carries the time
 *   until the next probe, which the retries above wait out exactly.
 * - The limiter innermost: it paces what is actually sent (probes included)
 *   and sees the provider's throttling errors directly.
 *
 * Each part can be turned off with `false`. The budget and the limiter keep
 * their state in the `FleetStore` in context: `FleetStore.layerMemory` for
 * one process, `FleetStoreRedis.layer` (`effect-retry-layer/redis`) for a fleet.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { FleetStore, ResilientModel } from "effect-retry-layer"
 *
 * declare const AnthropicLive: Layer.Layer<import("effect-retry-layer").CompletionModel.CompletionModel>
 *
 * const Model = ResilientModel.layer({ retry: { maxAttempts: 6 }, budget: { key: "anthropic" } }).pipe(
 *   Layer.provide(AnthropicLive),
 *   Layer.provide(FleetStore.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as CompletionModel from "./CompletionModel.js"
import type * as FleetStore from "./core/FleetStore.js"
import type { InvalidOptions } from "./core/internal/invalidOptions.js"
import { checked, validatedWithPolicy } from "./core/internal/invalidOptions.js"
import * as Stack from "./core/internal/stack.js"
import * as Policy from "./Policy.js"
import * as RetryingModel from "./RetryingModel.js"
import type * as RetrySchedule from "./RetrySchedule.js"

/**
 * What every layer of the stack takes: `retry` (the policy), `budget`, `breaker` and `limiter` (each part's
 * options, `false` to turn it off) and `secrets` (values scrubbed from every message the stack quotes).
 *
 * @category models
 * @since 0.1.0
 */
export type Options = Stack.Options

/**
 * The policies of a stack, for dashboards and tests: each one's `state` (and the
 * rest of its interface), `undefined` where the stack's option turned it off.
 * Provided by {@link layer}, `ResilientLanguageModel.layer` and
 * `ResilientHttpClient.layer` beside what they decorate.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ResilientModel } from "effect-retry-layer"
 *
 * const dashboard = Effect.gen(function*() {
 *   const { breaker, limiter } = yield* ResilientModel.Policies
 *   return { circuit: yield* breaker!.state, pace: yield* limiter!.state }
 * })
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Policies = Stack.Policies

/**
 * @category tags
 * @since 0.1.0
 */
export const Policies = Stack.Policies

/**
 * Provides the stack over the model in context, and its {@link Policies}. Fails with `InvalidOptions` or
 * `InvalidRetryPolicy`, when built, if an option is not valid.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<
  CompletionModel.CompletionModel | Policies,
  InvalidOptions | RetrySchedule.InvalidRetryPolicy,
  CompletionModel.CompletionModel | FleetStore.FleetStore
> =>
  Layer.scopedContext(
    validatedWithPolicy(() => {
      checked("ResilientModel", options, Stack.fields)
      const parts = Stack.parts(options)
      const policy = Stack.retryPolicy(options.retry, parts.limiter !== undefined)
      return Effect.gen(function*() {
        const inner = yield* CompletionModel.CompletionModel
        const policies = yield* Stack.make(parts, inner)
        const model = RetryingModel.make(Policy.decorate(inner, Stack.attempt(policies)), policy, {
          ...(options.secrets === undefined ? {} : { secrets: options.secrets }),
          ...(policies.budget === undefined ? {} : { budget: policies.budget })
        })
        return Context.make(CompletionModel.CompletionModel, model).pipe(Context.add(Policies, policies))
      })
    })
  )
