/**
 * A retry budget: a token bucket shared by every caller of one retry layer,
 * so that a fleet under an outage stops adding retries to the load.
 *
 * Each retry must be admitted by the budget; successes pay tokens back. When
 * the budget refuses, the call's last failure comes back at once as a
 * `RetryBudgetExhaustedError` (transient; `cause` is the failure) instead of
 * being retried. Two policies, each from a production client:
 *
 * - {@link awsQuota} (the default), the AWS SDKs' standard retry quota as of
 *   2026: 500 tokens; a retry costs 14, or 5 after a throttling error (the
 *   server asked for the retry); a call that succeeds after retries pays back
 *   the cost of its last retry, one that succeeds at once pays back 1; never
 *   above 500. Under total failure it allows at most 500 / 5 = 100 retries,
 *   fleet-wide, until successes refill it.
 * - {@link grpcThrottling}, gRPC's retry throttling: 10 tokens; every failure
 *   that would be retried costs 1 and the retry is allowed only while more
 *   than half remain; a success pays back 0.1. Under total failure it allows
 *   5 retries in all.
 *
 * The bucket lives in `@effect/experimental`'s `RateLimiterStore`: the
 * in-memory store (`RateLimiter.layerStoreMemory`) for one process, the Redis
 * store (`@effect/experimental/RateLimiter/Redis`) for a fleet. Processes with
 * the same `key` on the same Redis share one budget. If the store fails, the
 * budget lets the retry through and logs a warning: an unreachable Redis must
 * not turn every transient error into a permanent one.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "@effect/experimental"
 * import { Layer } from "effect"
 * import { RetryBudget, RetryingModel } from "effect-retry-layer"
 *
 * const Retries = RetryingModel.layerWithBudget({ maxAttempts: 4 }).pipe(
 *   Layer.provide(RetryBudget.layer({ key: "anthropic-prod" })),
 *   Layer.provide(RateLimiter.layerStoreMemory)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as RateLimiter from "@effect/experimental/RateLimiter"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Tokens from "./internal/tokens.js"
import * as ModelError from "./ModelError.js"

/**
 * @since 0.1.0
 */
export type Policy = Data.TaggedEnum<{
  /** AWS SDK standard-mode retry quota. */
  Quota: {
    readonly capacity: number
    readonly retryCost: number
    readonly throttlingRetryCost: number
    readonly noRetryIncrement: number
  }
  /** gRPC retry throttling. */
  TokenRatio: { readonly maxTokens: number; readonly tokenRatio: number }
}>

/**
 * @since 0.1.0
 */
export const Policy = Data.taggedEnum<Policy>()

/**
 * The AWS SDKs' standard retry quota (2026 costs): 500 tokens, 14 per retry,
 * 5 per retry after throttling, 1 back per first-time success.
 *
 * @since 0.1.0
 */
export const awsQuota: Policy = Policy.Quota({
  capacity: 500,
  retryCost: 14,
  throttlingRetryCost: 5,
  noRetryIncrement: 1
})

/**
 * gRPC retry throttling with the defaults of its service config examples:
 * `maxTokens` 10, `tokenRatio` 0.1.
 *
 * @since 0.1.0
 */
export const grpcThrottling: Policy = Policy.TokenRatio({ maxTokens: 10, tokenRatio: 0.1 })

/**
 * @since 0.1.0
 */
export interface Service {
  readonly key: string
  readonly policy: Policy
  /** Asks to retry after `error`; `false` means the budget refuses. A granted retry has been paid for. */
  readonly admit: (error: unknown) => Effect.Effect<boolean>
  /**
   * Reports a call that succeeded; `lastRetried` is the error its last retry
   * followed, or `undefined` if it succeeded at once.
   */
  readonly recordSuccess: (lastRetried: unknown) => Effect.Effect<void>
  /** Tokens left, for dashboards and tests. */
  readonly balance: Effect.Effect<number>
}

/**
 * @since 0.1.0
 */
export class RetryBudget extends Context.Tag("effect-retry-layer/RetryBudget")<RetryBudget, Service>() {}

/**
 * @since 0.1.0
 */
export interface Options {
  /** Callers (and processes) with the same key share a budget. Default `"default"`. */
  readonly key?: string
  /** Default {@link awsQuota}. */
  readonly policy?: Policy
}

/**
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<Service, never, RateLimiter.RateLimiterStore> =>
  Effect.map(RateLimiter.RateLimiterStore, (store) => {
    const policy = options.policy ?? awsQuota
    const key = `effect-retry-layer:budget:${options.key ?? "default"}`
    const capacity = policy._tag === "Quota" ? policy.capacity : policy.maxTokens
    const cost = (error: unknown) =>
      policy._tag === "Quota"
        ? (ModelError.isThrottling(error) || isCircuitOpen(error) ? policy.throttlingRetryCost : policy.retryCost)
        : 1
    const admit = (error: unknown) =>
      Effect.map(
        Tokens.take(store, key, cost(error), capacity),
        // gRPC counts the failure even when it refuses the retry; a refused take changed nothing, which is its floor.
        (after) => policy._tag === "Quota" ? after >= 0 : after > policy.maxTokens / 2
      ).pipe(failOpen(key, true))
    const recordSuccess = (lastRetried: unknown) =>
      Tokens.refund(
        store,
        key,
        policy._tag === "TokenRatio"
          ? policy.tokenRatio
          : lastRetried === undefined
          ? policy.noRetryIncrement
          : cost(lastRetried),
        capacity
      ).pipe(failOpen<void>(key, undefined))
    return {
      key: options.key ?? "default",
      policy,
      admit,
      recordSuccess,
      balance: Effect.orElseSucceed(Tokens.balance(store, key, capacity), () => Number.NaN)
    }
  })

/**
 * Provides a {@link RetryBudget} on the store in context.
 *
 * @since 0.1.0
 */
export const layer = (options?: Options): Layer.Layer<RetryBudget, never, RateLimiter.RateLimiterStore> =>
  Layer.effect(RetryBudget, make(options))

const isCircuitOpen = (error: unknown) => ModelError.isModelError(error) && error._tag === "CircuitOpenError"

const failOpen =
  <A>(key: string, fallback: A) =>
  <R>(effect: Effect.Effect<A, RateLimiter.RateLimiterError, R>): Effect.Effect<A, never, R> =>
    Effect.catchAll(effect, (error) =>
      Effect.as(
        Effect.logWarning(`retry budget ${key}: the store failed (${error.message}); letting the call through`),
        fallback
      ))
