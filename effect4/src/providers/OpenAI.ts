/**
 * An `effect/ai` `LanguageModel` over OpenAI's Chat Completions API (streamed; Azure OpenAI and compatible servers too): text, tool calls (run by `effect/ai`'s
 * `Toolkit` handlers), reasoning with its signature kept for the next turn, usage, and structured output
 * (`generateObject`, through a tool the model must call). Each call's acquisition (the request, the status, and
 * the stream up to its first chunk) is retried on OpenAI's own errors: a 429's `retry-after-ms` or `retry-after`
 * is a floor, 5xx are retried, a 200 whose first event is an error too; nothing after the first chunk is replayed. What still fails
 * is an `AiError` whose reason says why (`RateLimitError` with its `retryAfter`, `QuotaExhaustedError`, ...).
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 * import { OpenAI } from "effect-retry-layer/openai"
 *
 * const Model = OpenAI.layerConfig({
 *   apiKey: Config.Redacted("OPENAI_API_KEY"),
 *   model: Config.succeed("gpt-4o-mini")
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
import type { InvalidOptions } from "../core/internal/invalidOptions.js"
import * as Wire from "../core/internal/openai.js"
import type { InvalidRetryPolicy } from "../core/RetryPolicy.js"
import * as ProviderModel from "../internal/providerModel.js"
import type { Policies } from "../ResilientLanguageModel.js"

/**
 * The adapter's options (key, model, base URL, organization, project, limits on time) and the model's (`retry`, `maxTokens`,
 * `temperature`).
 *
 * @category models
 * @since 1.0.0
 */
export interface Options extends Wire.Options, ProviderModel.Options {}

/**
 * Fails with `InvalidOptions` when `baseUrl` is not an absolute http(s) URL or the key is not a `Redacted`, and
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
> => ProviderModel.make("OpenAI", () => Wire.adapter(options), options)

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
  ProviderModel.layer("OpenAI", () => Wire.adapter(options), options)

/**
 * {@link layer} with its options read from `Config`, e.g.
 * `{ apiKey: Config.Redacted("OPENAI_API_KEY"), model: Config.succeed("gpt-4o-mini") }`.
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

/**
 * An Azure OpenAI deployment's options (endpoint, deployment, api-version, key, limits on time) and the model's.
 *
 * @category models
 * @since 1.0.0
 */
export interface AzureOptions extends Wire.AzureOptions, ProviderModel.Options {}

/**
 * An Azure OpenAI deployment: `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...` with
 * the key in the `api-key` header. Fails with `InvalidOptions` when `endpoint` is not an absolute http(s) URL or
 * the key is not a `Redacted`.
 *
 * @category constructors
 * @since 1.0.0
 */
export const makeAzure = (
  options: AzureOptions
): Effect.Effect<
  LanguageModel.LanguageModel,
  InvalidOptions | InvalidRetryPolicy,
  HttpClient.HttpClient | Scope.Scope
> => ProviderModel.make("AzureOpenAI", () => Wire.azureAdapter(options), options)

/**
 * The provider's `LanguageModel`, and `ResilientLanguageModel.Policies`: the fleet stack's policies it applies
 * (each `undefined` where turned off), for a dashboard.
 *
 * @category layers
 * @since 1.0.0
 */
export const layerAzure = (
  options: AzureOptions
): Layer.Layer<LanguageModel.LanguageModel | Policies, InvalidOptions | InvalidRetryPolicy, HttpClient.HttpClient> =>
  ProviderModel.layer("AzureOpenAI", () => Wire.azureAdapter(options), options)

/**
 * {@link layerAzure} with its options read from `Config`.
 *
 * @category layers
 * @since 1.0.0
 */
export const layerAzureConfig = (
  options: Config.Wrap<AzureOptions>
): Layer.Layer<
  LanguageModel.LanguageModel | Policies,
  Config.ConfigError | InvalidOptions | InvalidRetryPolicy,
  HttpClient.HttpClient
> => ProviderModel.layerConfig(options, layerAzure)
