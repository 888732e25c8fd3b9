/**
 * The recommended stack below a client you do not write: the `HttpClient` in
 * context decorated so that each request's acquisition is retried (with the
 * retry budget) through the circuit breaker and the adaptive rate limiter,
 * the composition `ResilientModel` puts around a model. Each request is one
 * request of the provider's limits; its rate-limit headers (Anthropic's or
 * OpenAI's), whatever its status, pace the limiter. Statuses are classified
 * and answered as {@link RetryingHttpClient} does: when retries end the caller
 * gets the last response intact, and what is inside a body that succeeded is
 * the caller's, never replayed.
 *
 * @example
 * ```ts
 * import { HttpClient } from "@effect/platform"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Effect, Layer } from "effect"
 * import { FleetStore } from "effect-retry-layer"
 * import { ResilientHttpClient } from "effect-retry-layer/http"
 *
 * const Client = ResilientHttpClient.layer({ provider: "inventory", retry: { maxAttempts: 4 } }).pipe(
 *   Layer.provide(NodeHttpClient.layerUndici),
 *   Layer.provide(FleetStore.layerMemory)
 * )
 * const program = Effect.flatMap(HttpClient.HttpClient, (client) => client.get("https://api.example.test/v1/items"))
 * ```
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as FleetStore from "./core/FleetStore.js"
import type * as HttpClassification from "./core/HttpClassification.js"
import type { InvalidOptions } from "./core/internal/invalidOptions.js"
import { check, validatedWithPolicy } from "./core/internal/invalidOptions.js"
import * as Stack from "./core/internal/stack.js"
import * as HttpRetry from "./internal/httpRetry.js"
import * as ResilientModel from "./ResilientModel.js"
import type * as RetrySchedule from "./RetrySchedule.js"

/**
 * `ResilientModel`'s options, and what names the client's errors, log lines and (unless `breaker.key` says
 * otherwise) its circuit.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options extends ResilientModel.Options {
  /** Names the errors, log lines and circuit. Default `"http"` (log lines and errors: the request's host). */
  readonly provider?: string
  /** The provider's error types. Default every adapter's table (Anthropic, OpenAI, Bedrock). */
  readonly errorTypes?: HttpClassification.ErrorTypeTable
}

/**
 * Decorates the `HttpClient` in context, and provides the stack's {@link ResilientModel.Policies} beside it.
 * Fails with `InvalidOptions` or `InvalidRetryPolicy`, when built, if an option is not valid (a policy's
 * `commitOn` included: a response is committed when its status is read).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<
  HttpClient.HttpClient | ResilientModel.Policies,
  InvalidOptions | RetrySchedule.InvalidRetryPolicy,
  HttpClient.HttpClient | FleetStore.FleetStore
> =>
  Layer.scopedContext(
    validatedWithPolicy(() => {
      const { parts, policy } = Stack.read("ResilientHttpClient", options, {
        provider: check.string,
        errorTypes: check.any
      })
      return Effect.gen(function*() {
        const inner = yield* HttpClient.HttpClient
        const policies = yield* Stack.make(parts, { name: options.provider ?? "http" })
        const client = HttpRetry.retrying(policy, {
          provider: options.provider,
          errorTypes: options.errorTypes,
          ...(options.secrets === undefined ? {} : { secrets: options.secrets }),
          ...(policies.budget === undefined ? {} : { budget: policies.budget })
        }, Stack.attempt(policies))(inner)
        return Context.make(HttpClient.HttpClient, client).pipe(Context.add(ResilientModel.Policies, policies))
      })
    })
  )

// The keys of `Options`: the stack's, and the client's own.
