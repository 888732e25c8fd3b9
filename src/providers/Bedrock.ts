/**
 * Classification of AWS (Amazon Bedrock) errors, for a Bedrock adapter or
 * for your own code that calls Bedrock through the AWS SDK.
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
import type * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as ForeignError from "../ForeignError.js"
import * as HttpClassification from "../HttpClassification.js"
import * as ErrorTypes from "../internal/errorTypes.js"
import * as ModelError from "../ModelError.js"
import * as RetryAfter from "../RetryAfter.js"

/**
 * AWS error codes and the tags they deserve.
 *
 * @since 0.1.0
 */
export const errorTypes: HttpClassification.ErrorTypeTable = ErrorTypes.bedrock

/**
 * Whether an AWS error code means "slow down".
 *
 * @since 0.1.0
 */
export const isThrottlingCode = (code: string): boolean => {
  const tag = errorTypes[code]
  return tag !== undefined && ModelError.isThrottlingTag(tag)
}

/**
 * Classifies a failed Bedrock HTTP response (codes from the
 * `x-amzn-errortype` header or the body's `__type`).
 *
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
    message: `bedrock${status === undefined ? "" : ` responded ${status}`}${code ? ` ${code}` : ""}: ${message}`,
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
