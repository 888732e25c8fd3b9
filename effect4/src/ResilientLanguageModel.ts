/**
 * The recommended stack in one layer, for whatever `effect/ai` `LanguageModel` is in context (one you wrote, or
 * another library's): the same pieces, in the same order and with the same defaults, as this library's providers
 * apply by themselves.
 *
 * ```
 * RetryingLanguageModel (+ RetryBudget) -> CircuitBreaker -> AdaptiveRateLimiter -> the LanguageModel in context
 * ```
 *
 * Each attempt (a whole `generateText` / `generateObject`, or a `streamText` up to its first content part) is
 * paced by the limiter and counted by the breaker; an `AiError` counts as the error it amounts to (a
 * `RateLimitError` is a throttle the limiter slows down for, an `InternalProviderError` a failure the breaker
 * counts). The budget and the limiter keep their state in the `FleetStore` in context (`FleetStore.layerMemory`,
 * or `FleetStoreRedis.layer` for a fleet). The layer also provides the stack's {@link Policies}.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import type { LanguageModel } from "effect/ai"
 * import { FleetStore, ResilientLanguageModel } from "effect-retry-layer"
 *
 * declare const Provider: Layer.Layer<LanguageModel.LanguageModel>
 *
 * const Model = ResilientLanguageModel.layer({ budget: { key: "my-model" } }).pipe(
 *   Layer.provide(Provider),
 *   Layer.provide(FleetStore.layerMemory)
 * )
 * ```
 *
 * @since 1.0.0
 */
import * as LanguageModel from "effect/ai/LanguageModel"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as FleetStore from "./core/FleetStore.js"
import type { InvalidOptions } from "./core/internal/invalidOptions.js"
import { check, validatedLayer } from "./core/internal/invalidOptions.js"
import * as Stack from "./core/internal/stack.js"
import * as RetryingLanguageModel from "./RetryingLanguageModel.js"
import type * as RetrySchedule from "./RetrySchedule.js"

/**
 * The stack's options (`retry`, `budget`, `breaker`, `limiter`: each part's options, or `false` to turn it off;
 * `secrets`), and the name of the log lines and (unless `breaker.key` says otherwise) the circuit.
 *
 * @category models
 * @since 1.0.0
 */
export interface Options extends Stack.Options {
  /** Default `"languageModel"`. */
  readonly name?: string
}

/**
 * The policies of a stack, for dashboards and tests: each one's `state` (and the rest of its interface),
 * `undefined` where the stack's option turned it off.
 *
 * @category models
 * @since 1.0.0
 */
export type Policies = Stack.Policies

/**
 * @category tags
 * @since 1.0.0
 */
export const Policies = Stack.Policies

/**
 * The recommended stack over whatever `LanguageModel` the layer is provided with, and its {@link Policies}.
 * Fails, when built, with `InvalidRetryPolicy` or `InvalidOptions` if an option is not valid.
 *
 * @category layers
 * @since 1.0.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<
  LanguageModel.LanguageModel | Policies,
  InvalidOptions | RetrySchedule.InvalidRetryPolicy,
  LanguageModel.LanguageModel | FleetStore.FleetStore
> =>
  validatedLayer(() => {
    const { parts, policy } = Stack.read("ResilientLanguageModel", options, { name: check.string })
    const name = options.name ?? "languageModel"
    return Layer.effectContext(
      Effect.gen(function*() {
        const inner = yield* LanguageModel.LanguageModel
        const policies = yield* Stack.make(parts, { name })
        const model = RetryingLanguageModel.make(inner, policy, {
          name,
          secrets: options.secrets,
          limiter: policies.limiter,
          breaker: policies.breaker,
          budget: policies.budget
        })
        return Context.make(LanguageModel.LanguageModel, model).pipe(Context.add(Stack.Policies, policies))
      })
    )
  })
