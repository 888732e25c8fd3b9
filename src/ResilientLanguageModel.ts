/**
 * The recommended stack in one layer, for `@effect/ai`'s `LanguageModel`: the
 * same pieces, in the same order and with the same defaults, as
 * `ResilientModel` for a `CompletionModel`.
 *
 * ```
 * RetryingLanguageModel (+ RetryBudget) -> CircuitBreaker -> AdaptiveRateLimiter -> the LanguageModel in context
 * ```
 *
 * Each attempt (a whole `generateText` / `generateObject`, or a `streamText`
 * up to its first content part) is paced by the limiter and counted by the
 * breaker; an `@effect/ai` failure counts as the error it amounts to (a 429 is
 * a rate limit the limiter slows down for, a 503 a failure the breaker
 * counts). The budget and the limiter keep their state in the `FleetStore` in
 * context (`FleetStore.layerMemory`, or `FleetStoreRedis.layer` for a fleet).
 *
 * @example
 * ```ts
 * import type { LanguageModel } from "@effect/ai"
 * import { Layer } from "effect"
 * import { FleetStore } from "effect-retry-layer"
 * import { ResilientLanguageModel } from "effect-retry-layer/ai"
 *
 * declare const Provider: Layer.Layer<LanguageModel.LanguageModel>
 *
 * const Model = ResilientLanguageModel.layer({ budget: { key: "anthropic" } }).pipe(
 *   Layer.provide(Provider),
 *   Layer.provide(FleetStore.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as LanguageModel from "@effect/ai/LanguageModel"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as FleetStore from "./core/FleetStore.js"
import type { InvalidOptions } from "./core/internal/invalidOptions.js"
import { check, validatedLayer } from "./core/internal/invalidOptions.js"
import * as Stack from "./core/internal/stack.js"
import * as RateLimitHeaders from "./core/RateLimitHeaders.js"
import * as ResilientModel from "./ResilientModel.js"
import * as RetryingLanguageModel from "./RetryingLanguageModel.js"
import type * as RetrySchedule from "./RetrySchedule.js"

/**
 * `ResilientModel`'s options, and the name of the spans, metrics, log lines
 * and (unless `breaker.key` says otherwise) the circuit.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends ResilientModel.Options {
  /** Default `"languageModel"`. */
  readonly name?: string
}

/**
 * The recommended stack over whatever `LanguageModel` the layer is provided with, and its policies
 * (`ResilientModel.Policies`). Fails, when built, with
 * `InvalidRetryPolicy` or `InvalidOptions` if an option is not valid.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<
  LanguageModel.LanguageModel | ResilientModel.Policies,
  InvalidOptions | RetrySchedule.InvalidRetryPolicy,
  LanguageModel.LanguageModel | FleetStore.FleetStore
> =>
  validatedLayer(() => {
    const { parts, policy } = Stack.read("ResilientLanguageModel", options, { name: check.string })
    const name = options.name ?? "languageModel"
    return Layer.scopedContext(
      Effect.gen(function*() {
        const inner = yield* LanguageModel.LanguageModel
        const policies = yield* Stack.make(parts, { name })
        const model = RetryingLanguageModel.make(inner, policy, {
          name,
          ...(options.secrets === undefined ? {} : { secrets: options.secrets }),
          limiter: policies.limiter,
          breaker: policies.breaker,
          budget: policies.budget
        })
        return Context.make(LanguageModel.LanguageModel, model).pipe(Context.add(ResilientModel.Policies, policies))
      })
    )
  })

/**
 * Hands the rate-limit headers of every response (successes too, which
 * `@effect/ai` does not show) to the limiter of the call that made the
 * request: give it as `AnthropicClient.layer({ transformClient })` or
 * `OpenAiClient.layer({ transformClient })` under this layer. It retries
 * nothing (the layer does).
 *
 * @example
 * ```ts
 * import { AnthropicClient } from "@effect/ai-anthropic"
 * import { ResilientLanguageModel } from "effect-retry-layer/ai"
 *
 * const Client = AnthropicClient.layer({ transformClient: ResilientLanguageModel.transformClient })
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const transformClient = (client: HttpClient.HttpClient): HttpClient.HttpClient =>
  HttpClient.tap(client, (response) => RateLimitHeaders.reportHeaders(response.headers))
