/**
 * Retries below a model SDK: an `HttpClient -> HttpClient` function that
 * retries each request's acquisition (sending it and reading its status) with
 * a {@link RetrySchedule} policy, for clients you do not write yourself, such
 * as `@effect/ai`'s provider clients (`AnthropicClient.layer({ transformClient })`).
 *
 * - A response with a status of 400 or more is classified as the adapters
 *   classify it ({@link HttpClassification}: the provider's error type, the
 *   status, `x-should-retry`, `retry-after-ms` / `retry-after`) from its
 *   first 64 KiB; a transient one is retried, and when retries end (a
 *   permanent status, or the last attempt) the caller gets that response,
 *   status, headers and body, as if nothing had happened in between.
 * - A transport failure (connection refused or reset) is retried; other
 *   client errors are not.
 * - A timeout or a budget refusal of this layer reaches the caller as an
 *   `HttpClientError` of reason `Transport` whose cause is this library's error.
 * - A response that succeeds is the caller's at once, stream and all: what
 *   happens inside a streamed body (an SSE error event, a dropped connection)
 *   is not seen here and never replayed. Decorating the model (`RetryingModel`)
 *   sees those too; this cannot.
 *
 * @example
 * ```ts
 * import { HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 * import { RetryingHttpClient } from "effect-retry-layer/http"
 *
 * const retrying = RetryingHttpClient.transformClient({ maxAttempts: 4 })
 * const program = Effect.gen(function*() {
 *   const client = retrying(yield* HttpClient.HttpClient)
 *   return yield* client.get("https://api.example.test/v1/models")
 * })
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClassification from "./core/HttpClassification.js"
import * as HttpRetry from "./internal/httpRetry.js"
import type * as RetryAcquisition from "./RetryAcquisition.js"
import * as RetrySchedule from "./RetrySchedule.js"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options extends Omit<RetryAcquisition.Options<unknown>, "provider" | "onRetry"> {
  /** Names the errors and log lines. Default the request's host. */
  readonly provider?: string
  /** The provider's error types. Default every adapter's table (Anthropic, OpenAI, Bedrock). */
  readonly errorTypes?: HttpClassification.ErrorTypeTable
}

/**
 * Retries every request of the client it is given.
 *
 * @throws InvalidRetryPolicy when `policy` is not valid or sets `commitOn`
 * @category combinators
 * @since 0.1.0
 */
export const transformClient = (
  policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input = {},
  options: Options = {}
): (client: HttpClient.HttpClient) => HttpClient.HttpClient => {
  const validated = RetrySchedule.honouredBy(RetrySchedule.policy(policy), "RetryingHttpClient", [
    "timeout",
    "maxElapsed",
    "untilDeadline"
  ])
  return HttpRetry.retrying(validated, options)
}
