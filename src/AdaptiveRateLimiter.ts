/**
 * The adaptive rate limiter (see the core module's description, re-exported here) and its `CompletionModel`
 * layer.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { AdaptiveRateLimiter, FleetStore, RetryingModel } from "effect-retry-layer"
 *
 * const Paced = RetryingModel.layer({ maxAttempts: 10 }).pipe(
 *   Layer.provide(AdaptiveRateLimiter.layer({ key: "anthropic", initialRate: 5 })),
 *   Layer.provide(FleetStore.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as CompletionModel from "./CompletionModel.js"
import { make, type Options } from "./core/AdaptiveRateLimiter.js"
import type * as FleetStore from "./core/FleetStore.js"
import type { InvalidOptions } from "./core/internal/invalidOptions.js"
import * as Policy from "./Policy.js"

export * from "./core/AdaptiveRateLimiter.js"

/**
 * Decorates whatever `CompletionModel` the layer is provided with. Fails with `InvalidOptions`, when built, if
 * `input` is not valid.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  input?: Options | Options.Input
): Layer.Layer<
  CompletionModel.CompletionModel,
  InvalidOptions,
  CompletionModel.CompletionModel | FleetStore.FleetStore
> => Layer.scoped(CompletionModel.CompletionModel, Effect.flatMap(CompletionModel.CompletionModel, decorate(input)))

/**
 * `inner` behind a limiter of its own, whose dispatcher lives as long as the scope. Fails with
 * `InvalidOptions` if `input` is not valid.
 *
 * @category combinators
 * @since 0.1.0
 */
export const decorate = (input?: Options | Options.Input) =>
(inner: CompletionModel.Service): Effect.Effect<
  CompletionModel.Service,
  InvalidOptions,
  FleetStore.FleetStore | Scope.Scope
> => Effect.map(make(input), (limiter) => Policy.decorate(inner, limiter))
