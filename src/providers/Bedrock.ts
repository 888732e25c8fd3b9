/**
 * Amazon Bedrock: a streaming adapter (`ConverseStream` over `@effect/platform`'s
 * HttpClient, signed with SigV4 by `@smithy/signature-v4`, its AWS event
 * stream read with `@smithy/eventstream-codec`), and the classification of
 * AWS errors, for the adapter or for your own code that calls Bedrock through
 * the AWS SDK.
 *
 * AWS reports throttling by error code, sometimes with a 400 rather than a
 * 429, so the code decides: `ThrottlingException`, `TooManyRequestsException`,
 * `RequestLimitExceeded` and `ProvisionedThroughputExceededException` are
 * rate limits; `ServiceUnavailableException`, `ModelNotReadyException` and
 * `InternalServerException` are transient server errors; `ModelTimeoutException`
 * is a timeout. Other codes fall back to the status.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { RetrySchedule } from "effect-retry-layer"
 * import { Bedrock } from "effect-retry-layer/bedrock"
 *
 * // An AWS SDK v3 call, its errors classified so the retry schedule can read them.
 * declare const send: () => Promise<unknown>
 * const call = Effect.tryPromise({ try: send, catch: Bedrock.fromAwsError })
 * const resilient = Effect.retry(call, RetrySchedule.make())
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as CompletionModel from "../CompletionModel.js"
import * as ForeignError from "../core/ForeignError.js"
import * as HttpClassification from "../core/HttpClassification.js"
import * as Wire from "../core/internal/bedrock.js"
import * as ErrorTypes from "../core/internal/errorTypes.js"
import type { InvalidOptions } from "../core/internal/invalidOptions.js"
import * as ModelError from "../core/ModelError.js"
import * as RetryAfter from "../core/RetryAfter.js"
import * as HttpModel from "../internal/httpModel.js"

/**
 * AWS credentials, each a `Redacted`.
 *
 * @category models
 * @since 0.1.0
 */
export type Credentials = Wire.Credentials

/**
 * @category models
 * @since 0.1.0
 */
export type Options = Wire.Options

/**
 * A `CompletionModel` over Bedrock's `ConverseStream`.
 *
 * Fails with `InvalidOptions` when `baseUrl` is not an absolute http(s) URL or a key is not a `Redacted`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<CompletionModel.Service, InvalidOptions, HttpClient.HttpClient> =>
  HttpModel.make(() => Wire.adapter(options), options)

/**
 * Fails with `InvalidOptions` when `baseUrl` is not an absolute http(s) URL or a key is not a `Redacted`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: Options
): Layer.Layer<CompletionModel.CompletionModel, InvalidOptions, HttpClient.HttpClient> =>
  Layer.effect(CompletionModel.CompletionModel, make(options))

/**
 * {@link layer} with its options read from `Config`, e.g.
 * `{ region: Config.string("AWS_REGION"), model: Config.succeed("..."), credentials: { accessKeyId:
 * Config.redacted("AWS_ACCESS_KEY_ID"), secretAccessKey: Config.redacted("AWS_SECRET_ACCESS_KEY") } }`.
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
> => HttpModel.layerConfig("Bedrock", options, layer, (resolved) => ["baseUrl", resolved.baseUrl])

/**
 * AWS error codes and the tags they deserve.
 *
 * @category constants
 * @since 0.1.0
 */
export const errorTypes: HttpClassification.ErrorTypeTable = ErrorTypes.bedrock

/**
 * Classifies a failed Bedrock HTTP response (codes from the
 * `x-amzn-errortype` header or the body's `__type`).
 *
 * @category classification
 * @since 0.1.0
 */
export const fromResponse = (
  response: Omit<HttpClassification.FailedResponse, "provider" | "errorTypes">
): Effect.Effect<ModelError.ModelError> =>
  HttpClassification.fromResponse({ ...response, provider: "bedrock", errorTypes })

/**
 * Classifies an error thrown by the AWS SDK v3 (`name` is the code,
 * `$metadata` carries the status and request id) or anything shaped like
 * one. A value that is not an error at all becomes a permanent
 * `InvalidRequestError`, so nothing unknown is retried. A `Retry-After` on the
 * raw response (`$response.headers`) is read against `now`, which defaults to
 * the system clock because this runs in a plain `catch` callback.
 *
 * @category classification
 * @since 0.1.0
 */
export const fromAwsError = (error: unknown, now: number = Date.now()): ModelError.ModelError => {
  // Tag, status, code and request id as every foreign error is read; the hint here also reads HTTP-dates.
  const recognized = ForeignError.recognize(error)
  const code = recognized?.errorType ?? stringField(error, "name") ?? stringField(error, "code")
  const message = stringField(error, "message") ?? stringField(error, "Message") ?? safeString(error)
  const status = recognized?.status
  const requestId = recognized?.requestId
  return ModelError.make(recognized?.tag ?? "InvalidRequestError", {
    provider: "bedrock",
    message: `bedrock${status === undefined ? "" : ` responded ${status}`}${code ? ` ${code}` : ""}: ${
      HttpClassification.safeText(message)
    }`,
    ...(status === undefined ? {} : { status }),
    ...(requestId === undefined ? {} : { requestId }),
    ...(code === undefined ? {} : { errorType: code }),
    ...Option.match(
      Option.orElse(RetryAfter.parse(rawHeaders(error), now), () => Option.fromNullable(recognized?.retryAfter)),
      {
        onNone: () => ({}),
        onSome: (retryAfter) => ({ retryAfter })
      }
    ),
    cause: error
  })
}

const safeString = (u: unknown): string => {
  try {
    return String(u)
  } catch {
    return typeof u
  }
}

const stringField = (u: unknown, key: string): string | undefined =>
  Predicate.hasProperty(u, key) && Predicate.isString(u[key]) && u[key] !== "" ? u[key] : undefined

// The SDK keeps the raw response on `$response`; a Retry-After there is still the server's word.
const rawHeaders = (error: unknown): RetryAfter.HeaderRecord => {
  const response = Predicate.hasProperty(error, "$response") ? error.$response : undefined
  const headers = Predicate.hasProperty(response, "headers") ? response.headers : undefined
  return Predicate.isRecord(headers) ? headers as RetryAfter.HeaderRecord : {}
}
