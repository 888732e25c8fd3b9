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
 * @since 0.3.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as HttpClassification from "./HttpClassification.js"
import { Classified } from "./internal/classified.js"
import { knownErrorTypes } from "./internal/errorTypes.js"
import { boundedText } from "./internal/httpModel.js"
import * as ModelError from "./ModelError.js"
import * as Retryable from "./Retryable.js"
import * as RetryAcquisition from "./RetryAcquisition.js"
import * as RetrySchedule from "./RetrySchedule.js"

/**
 * @category models
 * @since 0.3.0
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
 * @since 0.3.0
 */
export const transformClient = (
  policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input = {},
  options: Options = {}
): (client: HttpClient.HttpClient) => HttpClient.HttpClient => {
  const validated = RetrySchedule.honouredBy(RetrySchedule.policy(policy), "RetryingHttpClient", [
    "timeout",
    "maxElapsed"
  ])
  const { errorTypes = knownErrorTypes, provider: named, ...acquisition } = options
  return (client) =>
    HttpClient.transform(client, (execute, request) => {
      const provider = named ?? hostOf(request.url)
      const attempt = Effect.flatMap(execute, (response) => {
        if (response.status < 400) return Effect.succeed(response)
        return Effect.flatMap(Effect.zip(boundedText(response), Clock.currentTimeMillis), ([body, now]) => {
          const error = HttpClassification.fromResponseAt(
            { provider, status: response.status, headers: response.headers, body, errorTypes },
            now
          )
          // The response again, for the caller, with the body already read.
          const again = HttpClientResponse.fromWeb(
            request,
            new Response(body, { status: response.status, headers: response.headers })
          )
          // Classified as its error is; the response is what the caller gets back when retries end.
          return Effect.fail(
            new Classified(again, Retryable.classify(error), {
              _tag: error._tag,
              message: error.message,
              status: response.status
            })
          )
        })
      })
      return RetryAcquisition.retryAcquisition(attempt, validated, {
        name: "http.request",
        ...acquisition,
        provider
      }).pipe(
        Effect.catchAll((failure) => {
          if (failure instanceof Classified) {
            return Effect.succeed(failure.value as HttpClientResponse.HttpClientResponse)
          }
          if (ModelError.isModelError(failure)) {
            return Effect.fail(
              new HttpClientError.RequestError({
                request,
                reason: "Transport",
                cause: failure,
                description: failure.message
              })
            )
          }
          return Effect.fail(failure)
        })
      )
    })
}

// Internals -------------------------------------------------------------------

const hostOf = (url: string): string => {
  try {
    return new URL(url).host
  } catch {
    return "http"
  }
}
