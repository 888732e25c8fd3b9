/**
 * Each request of an `HttpClient` retried, its attempts through an attempt
 * policy when one is given: the core of `RetryingHttpClient.transformClient`
 * (retries alone) and `ResilientHttpClient.layer` (the recommended stack).
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as HttpClassification from "../core/HttpClassification.js"
import { Classified } from "../core/internal/classified.js"
import { knownErrorTypes } from "../core/internal/errorTypes.js"
import { boundedText } from "../core/internal/httpRead.js"
import * as ModelError from "../core/ModelError.js"
import * as RateLimitHeaders from "../core/RateLimitHeaders.js"
import * as Retryable from "../core/Retryable.js"
import type * as Policy from "../Policy.js"
import * as RetryAcquisition from "../RetryAcquisition.js"
import type * as RetrySchedule from "../RetrySchedule.js"

/** @internal */
export interface Options extends Omit<RetryAcquisition.Options<unknown>, "provider" | "onRetry"> {
  readonly provider?: string | undefined
  readonly errorTypes?: HttpClassification.ErrorTypeTable | undefined
}

/**
 * The client transformed: a status of 400 or more is classified as the adapters classify it and fails the
 * attempt (the response is what the caller gets when retries end); with `attempt`, each attempt runs under it,
 * one request of the provider's limits, its rate-limit headers reported to the limiter whatever the status.
 *
 * @internal
 */
export const retrying = (
  policy: RetrySchedule.RetryPolicy,
  options: Options,
  attempt?: Policy.Policy
): (client: HttpClient.HttpClient) => HttpClient.HttpClient => {
  const { errorTypes = knownErrorTypes, provider: named, ...acquisition } = options
  return (client) =>
    HttpClient.transform(client, (execute, request) => {
      const provider = named ?? hostOf(request.url)
      const classified = Effect.flatMap(execute, (response) => {
        const checked = response.status < 400 ? Effect.succeed(response) : failed(request, response, {
          provider,
          errorTypes
        })
        return attempt === undefined
          ? checked
          : Effect.zipRight(RateLimitHeaders.reportHeaders(response.headers), checked)
      })
      // A request that was answered counts one request of the provider's limits (no tokens: its size is unknown).
      const once = attempt === undefined
        ? classified
        : attempt.applyCall({ run: (settle) => Effect.tap(classified, () => settle({})) })
      return RetryAcquisition.retryAcquisition(once, policy, {
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

// A failed status, classified as its error is, from the body's first 64 KiB; the response again (body already
// read) is what the caller gets back when retries end.
const failed = (
  request: HttpClientRequest.HttpClientRequest,
  response: HttpClientResponse.HttpClientResponse,
  settings: { readonly provider: string; readonly errorTypes: HttpClassification.ErrorTypeTable }
) =>
  Effect.flatMap(Effect.zip(boundedText(response), Clock.currentTimeMillis), ([body, now]) => {
    const error = HttpClassification.fromResponseAt(
      { ...settings, status: response.status, headers: response.headers, body },
      now
    )
    const again = HttpClientResponse.fromWeb(
      request,
      new Response(body, { status: response.status, headers: response.headers })
    )
    return Effect.fail(
      new Classified(again, Retryable.classify(error), {
        _tag: error._tag,
        message: error.message,
        status: response.status
      })
    )
  })

const hostOf = (url: string): string => {
  try {
    return new URL(url).host
  } catch {
    return "http"
  }
}
