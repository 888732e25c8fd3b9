/**
 * A `CompletionModel` over OpenAI's Chat Completions API with `stream: true`,
 * and the same over an Azure OpenAI deployment.
 *
 * Built on `@effect/platform`'s `HttpClient` (provide one, e.g.
 * `NodeHttpClient.layerUndici`). Failed responses go through
 * {@link HttpClassification} with OpenAI's error types (`insufficient_quota`
 * is a permanent `QuotaExceededError`, not a rate limit to wait out). The
 * stream asks for `stream_options.include_usage` and maps content deltas to
 * `TextDelta` and the finish reason and usage to a `TurnFinished` at `[DONE]`.
 * API keys are `Redacted` and never appear in logs, errors or spans (Azure's
 * `api-key` header included).
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer, Redacted } from "effect"
 * import { RetryingModel } from "effect-retry-layer"
 * import { OpenAI } from "effect-retry-layer/openai"
 *
 * const Model = RetryingModel.layer().pipe(
 *   Layer.provide(OpenAI.layerConfig({ apiKey: Config.redacted("OPENAI_API_KEY"), model: Config.succeed("gpt-4o-mini") })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 *
 * const Azure = OpenAI.layerAzure({
 *   apiKey: Redacted.make(process.env.AZURE_OPENAI_API_KEY!),
 *   endpoint: "https://my-resource.openai.azure.com",
 *   deployment: "gpt-4o-mini"
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as CompletionModel from "../CompletionModel.js"
import type * as HttpClassification from "../core/HttpClassification.js"
import * as ErrorTypes from "../core/internal/errorTypes.js"
import type { InvalidOptions } from "../core/internal/invalidOptions.js"
import * as Wire from "../core/internal/openai.js"
import * as HttpModel from "../internal/httpModel.js"

/**
 * Settings shared by OpenAI and Azure OpenAI.
 *
 * @category models
 * @since 0.1.0
 */
export type CommonOptions = Wire.CommonOptions

/**
 * @category models
 * @since 0.1.0
 */
export type Options = Wire.Options

/**
 * @category models
 * @since 0.1.0
 */
export type AzureOptions = Wire.AzureOptions

/**
 * OpenAI's error types and codes and the tags they deserve, consulted before
 * the status and for errors inside a stream.
 *
 * @category constants
 * @since 0.1.0
 */
export const errorTypes: HttpClassification.ErrorTypeTable = ErrorTypes.openai

/**
 * Fails with `InvalidOptions` when `baseUrl` is not an absolute http(s) URL or a key is not a `Redacted`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<CompletionModel.Service, InvalidOptions, HttpClient.HttpClient> =>
  HttpModel.make(() => Wire.adapter(options), options)

/**
 * An Azure OpenAI deployment: `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=...`
 * with the key in the `api-key` header.
 *
 * Fails with `InvalidOptions` when `endpoint` is not an absolute http(s) URL or a key is not a `Redacted`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeAzure = (
  options: AzureOptions
): Effect.Effect<CompletionModel.Service, InvalidOptions, HttpClient.HttpClient> =>
  HttpModel.make(() => Wire.azureAdapter(options), options)

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: Options
): Layer.Layer<CompletionModel.CompletionModel, InvalidOptions, HttpClient.HttpClient> =>
  Layer.effect(CompletionModel.CompletionModel, make(options))

/**
 * @category layers
 * @since 0.1.0
 */
export const layerAzure = (
  options: AzureOptions
): Layer.Layer<CompletionModel.CompletionModel, InvalidOptions, HttpClient.HttpClient> =>
  Layer.effect(CompletionModel.CompletionModel, makeAzure(options))

/**
 * {@link layer} with its options read from `Config`, e.g.
 * `{ apiKey: Config.redacted("OPENAI_API_KEY"), model: Config.succeed("gpt-4o-mini") }`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  options: Config.Config.Wrap<Options>
): Layer.Layer<
  CompletionModel.CompletionModel,
  ConfigError.ConfigError | InvalidOptions,
  HttpClient.HttpClient
> => HttpModel.layerConfig("OpenAI", options, layer, (resolved) => ["baseUrl", resolved.baseUrl])

/**
 * {@link layerAzure} with its options read from `Config`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerAzureConfig = (
  options: Config.Config.Wrap<AzureOptions>
): Layer.Layer<
  CompletionModel.CompletionModel,
  ConfigError.ConfigError | InvalidOptions,
  HttpClient.HttpClient
> => HttpModel.layerConfig("Azure OpenAI", options, layerAzure, (resolved) => ["endpoint", resolved.endpoint])
