/**
 * A `CompletionModel` over Anthropic's Messages API with `stream: true`.
 *
 * Built on `@effect/platform`'s `HttpClient` (provide one, e.g.
 * `NodeHttpClient.layerUndici` from `@effect/platform-node`). Failed
 * responses go through {@link HttpClassification} with Anthropic's error
 * types; the stream maps `message_start`, `content_block_delta`,
 * `message_delta` and `message_stop` to `TextDelta` and `TurnFinished`, and an
 * `error` event (such as `overloaded_error`) to a typed error after the chunks
 * already delivered. The API key is a `Redacted` and never appears in logs,
 * errors or spans.
 *
 * @example
 * ```ts
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Layer } from "effect"
 * import { RetryingModel } from "effect-retry-layer"
 * import { Anthropic } from "effect-retry-layer/anthropic"
 *
 * const Model = RetryingModel.layer().pipe(
 *   Layer.provide(Anthropic.layerConfig({
 *     apiKey: Config.redacted("ANTHROPIC_API_KEY"),
 *     model: Config.succeed("claude-sonnet-4-5")
 *   })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
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
import * as Wire from "../core/internal/anthropic.js"
import * as ErrorTypes from "../core/internal/errorTypes.js"
import type { InvalidOptions } from "../core/internal/invalidOptions.js"
import * as HttpModel from "../internal/httpModel.js"

/**
 * @category models
 * @since 0.1.0
 */
export type Options = Wire.Options

/**
 * Anthropic's error types and the tags they deserve; consulted before the
 * status, and the only guide for an `error` event inside a stream.
 *
 * @category constants
 * @since 0.1.0
 */
export const errorTypes: HttpClassification.ErrorTypeTable = ErrorTypes.anthropic

/**
 * Fails with `InvalidOptions` when `baseUrl` is not an absolute http(s) URL or a key is not a `Redacted`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<CompletionModel.Service, InvalidOptions, HttpClient.HttpClient> =>
  HttpModel.make(() => Wire.adapter(options), options)

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: Options
): Layer.Layer<CompletionModel.CompletionModel, InvalidOptions, HttpClient.HttpClient> =>
  Layer.effect(CompletionModel.CompletionModel, make(options))

/**
 * {@link layer} with its options read from `Config`, e.g.
 * `{ apiKey: Config.redacted("ANTHROPIC_API_KEY"), model: Config.succeed("claude-sonnet-4-5") }`.
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
> => HttpModel.layerConfig("Anthropic", options, layer, (resolved) => ["baseUrl", resolved.baseUrl])
