/**
 * An `effect/ai` `LanguageModel` over Bedrock's `ConverseStream` (AWS event stream, SigV4-signed): text, tool calls (run by `effect/ai`'s
 * `Toolkit` handlers), reasoning with its signature kept for the next turn, usage, and structured output
 * (`generateObject`, through a tool the model must call). Each call's acquisition (the request, the status, and
 * the stream up to its first chunk) is retried on Bedrock's own errors: throttling and 5xx are retried, a stream
 * whose first message is an exception too; nothing after the first chunk is replayed. What still fails
 * is an `AiError` whose reason says why (`RateLimitError` with its `retryAfter`, `QuotaExhaustedError`, ...).
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 * import { Bedrock } from "effect-retry-layer/bedrock"
 *
 * const Model = Bedrock.layerConfig({
 *   region: Config.String("AWS_REGION"),
 *   model: Config.succeed("anthropic.claude-3-5-sonnet-20240620-v1:0"),
 *   credentials: {
 *     accessKeyId: Config.Redacted("AWS_ACCESS_KEY_ID"),
 *     secretAccessKey: Config.Redacted("AWS_SECRET_ACCESS_KEY")
 *   }
 * }).pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 1.0.0
 */
import type * as LanguageModel from "effect/ai/LanguageModel"
import type * as Config from "effect/Config"
import type * as Effect from "effect/Effect"
import type * as HttpClient from "effect/http/HttpClient"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Wire from "../core/internal/bedrock.js"
import type { InvalidOptions } from "../core/internal/invalidOptions.js"
import type { InvalidRetryPolicy } from "../core/RetryPolicy.js"
import * as ProviderModel from "../internal/providerModel.js"
import type { Policies } from "../ResilientLanguageModel.js"

/**
 * The adapter's options (region, model, credentials, base URL, limits on time) and the model's (`retry`, `maxTokens`,
 * `temperature`).
 *
 * @category models
 * @since 1.0.0
 */
export interface Options extends Wire.Options, ProviderModel.Options {}

/**
 * Fails with `InvalidOptions` when `baseUrl` is not an absolute http(s) URL or a credential is not a `Redacted`, and
 * with `InvalidRetryPolicy` for a bad `retry`.
 *
 * @category constructors
 * @since 1.0.0
 */
export const make = (
  options: Options
): Effect.Effect<
  LanguageModel.LanguageModel,
  InvalidOptions | InvalidRetryPolicy,
  HttpClient.HttpClient | Scope.Scope
> => ProviderModel.make("Bedrock", () => Wire.adapter(options), options)

/**
 * The provider's `LanguageModel`, and `ResilientLanguageModel.Policies`: the fleet stack's policies it applies
 * (each `undefined` where turned off), for a dashboard.
 *
 * @category layers
 * @since 1.0.0
 */
export const layer = (
  options: Options
): Layer.Layer<LanguageModel.LanguageModel | Policies, InvalidOptions | InvalidRetryPolicy, HttpClient.HttpClient> =>
  ProviderModel.layer("Bedrock", () => Wire.adapter(options), options)

/**
 * {@link layer} with its options read from `Config`.
 *
 * @category layers
 * @since 1.0.0
 */
export const layerConfig = (
  options: Config.Wrap<Options>
): Layer.Layer<
  LanguageModel.LanguageModel | Policies,
  Config.ConfigError | InvalidOptions | InvalidRetryPolicy,
  HttpClient.HttpClient
> => ProviderModel.layerConfig(options, layer)
