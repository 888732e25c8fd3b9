/**
 * The shape every policy over one attempt of a call shares (the circuit
 * breaker and the adaptive rate limiter), the call they apply to, and one
 * `compose` that builds the recommended stack from them: the
 * `CompletionModel` stack (`ResilientModel`), the `LanguageModel` stack
 * (`RetryingLanguageModel`, `ResilientLanguageModel`) and a decorator of your
 * own are that same composition.
 *
 * A call is its acquisition (`run`), its size (what the model reads and the
 * most it may write: the limiter's cost) and its usage, settled when the turn
 * ends (`settle(usage)`) or given back (`settle()`).
 *
 * @example
 * ```ts
 * import { Effect, Layer } from "effect"
 * import { AdaptiveRateLimiter, CircuitBreaker, CompletionModel, Policy } from "effect-retry-layer"
 *
 * // the breaker outside the limiter, as ResilientModel orders them
 * const Guarded = Layer.scoped(
 *   CompletionModel.CompletionModel,
 *   Effect.gen(function*() {
 *     const inner = yield* CompletionModel.CompletionModel
 *     const breaker = yield* CircuitBreaker.make({ key: inner.name })
 *     const limiter = yield* AdaptiveRateLimiter.make({ key: inner.name })
 *     return Policy.decorate(Policy.compose(breaker, limiter))(inner)
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 */
import { dual } from "effect/Function"
import type * as CompletionModel from "./CompletionModel.js"
import { guardChat, type Policy } from "./core/Policy.js"

export * from "./core/Policy.js"

/**
 * A `CompletionModel` whose every call goes through `policy`: each
 * `chatStream` is one attempt, sized by its request, settled by its turn's
 * `TurnFinished` usage (or given back if the stream ends before it).
 *
 * @category combinators
 * @since 0.1.0
 */
export const decorate: {
  (policy: Policy): (inner: CompletionModel.Service) => CompletionModel.Service
  (inner: CompletionModel.Service, policy: Policy): CompletionModel.Service
} = dual(2, (inner: CompletionModel.Service, policy: Policy): CompletionModel.Service => ({
  name: inner.name,
  model: inner.model,
  chatStream: guardChat(policy, inner.chatStream)
}))
