/**
 * The circuit breaker (see the core module's description, re-exported here) and its `CompletionModel` layer.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { CircuitBreaker, RetryingModel } from "effect-retry-layer"
 *
 * const Guarded = RetryingModel.layer().pipe(
 *   Layer.provide(CircuitBreaker.layer({ failureRate: { threshold: 0.5, window: 20 }, resetTimeout: "10 seconds" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as CompletionModel from "./CompletionModel.js"
import { keyed, make, type Options, options } from "./core/CircuitBreaker.js"
import type { InvalidOptions } from "./core/internal/invalidOptions.js"
import { validated } from "./core/internal/invalidOptions.js"
import * as Policy from "./Policy.js"

export * from "./core/CircuitBreaker.js"

/**
 * Decorates whatever `CompletionModel` the layer is provided with; the
 * circuit is named after the model unless `key` says otherwise.
 *
 * Fails with `InvalidOptions`, when built, if `input` is not valid.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  input?: Options | Options.Input
): Layer.Layer<CompletionModel.CompletionModel, InvalidOptions, CompletionModel.CompletionModel> =>
  Layer.effect(CompletionModel.CompletionModel, Effect.flatMap(CompletionModel.CompletionModel, decorate(input)))

/**
 * `inner` behind a breaker of its own, named after the model unless `key` is set. Fails with
 * `InvalidOptions` if `input` is not valid.
 *
 * @category combinators
 * @since 0.1.0
 */
export const decorate =
  (input?: Options | Options.Input) =>
  (inner: CompletionModel.Service): Effect.Effect<CompletionModel.Service, InvalidOptions> =>
    validated(() => Effect.map(make(keyed(options(input), inner)), (breaker) => Policy.decorate(inner, breaker)))
