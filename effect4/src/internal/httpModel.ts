import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Headers from "effect/http/Headers"
import type * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import type * as CircuitBreaker from "effect/persistence/CircuitBreaker"
import type * as RateLimiter from "effect/persistence/RateLimiter"
import * as Stream from "effect/Stream"
import type * as Chat from "../core/Chat.js"
import * as HttpRead from "../core/internal/httpRead.js"
import * as Wire from "../core/internal/wire.js"
import * as ModelError from "../core/ModelError.js"

/**
 * An adapter's limits on time.
 *
 * @internal
 */
export interface Limits {
  /** Limit on the acquisition: sending, the status line and, for a failure, its body. Default 10 minutes. */
  readonly timeout?: Duration.Input
  /** Limit on the wait for each piece of an open stream. Default 5 minutes. */
  readonly idleTimeout?: Duration.Input
  /** Limit on the time an open stream goes without content (comments and pings do not count). Default 10 minutes. */
  readonly contentTimeout?: Duration.Input
}

/**
 * One call of an adapter: the request sent, its status read and its stream opened (the acquisition), or the
 * `ModelError` that stopped it.
 *
 * @internal
 */
export type ChatStream = (
  request: Chat.ChatRequest
) => Effect.Effect<Stream.Stream<Chat.StreamChunk, ModelError.ModelError>, ModelError.ModelError>

/**
 * An adapter (`core/internal/wire`) run over `effect/http`'s `HttpClient`.
 *
 * @internal
 */
export const make = (adapter: Wire.Adapter, limits: Limits, client: HttpClient.HttpClient): ChatStream => {
  // The official SDKs' default for a request; an open stream may idle for half that.
  const timeout = Duration.fromInputUnsafe(limits.timeout ?? "10 minutes")
  const stream = {
    idleTimeout: Duration.fromInputUnsafe(limits.idleTimeout ?? "5 minutes"),
    contentTimeout: Duration.fromInputUnsafe(limits.contentTimeout ?? "10 minutes")
  }
  const redactSecrets = Effect.updateService(
    Headers.CurrentRedactedNames,
    (names) => [...names, ...adapter.secretHeaders]
  )
  return (request) =>
    Effect.flatMap(
      httpRequest(adapter, request),
      (httpRequest) =>
        Effect.mapError(
          client.execute(httpRequest) as Effect.Effect<
            HttpClientResponse.HttpClientResponse,
            HttpClientError.HttpClientError | CircuitBreaker.CircuitBreakerError | RateLimiter.RateLimiterError
          >,
          (error) => fromClientError(adapter.provider, error)
        )
    ).pipe(
      Effect.flatMap((response) =>
        HttpRead.open(adapter, response, (requestId, rateLimit) =>
          HttpRead.turnStream(
            adapter,
            stream,
            Stream.mapError(
              response.stream,
              (error) => fromClientError(adapter.provider, error, requestId, "response")
            ),
            requestId,
            rateLimit
          ))
      ),
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () => Effect.fail(Wire.timedOut(adapter.provider, `no response within ${Duration.format(timeout)}`))
      }),
      redactSecrets
    )
}

// The adapter's call as this line's request.
const httpRequest = (
  adapter: Wire.Adapter,
  request: Chat.ChatRequest
): Effect.Effect<HttpClientRequest.HttpClientRequest, ModelError.ModelError> =>
  Effect.map(HttpRead.call(adapter, request), (call) =>
    HttpClientRequest.post(call.url).pipe(
      HttpClientRequest.setHeaders(call.headers),
      HttpClientRequest.bodyText(call.body, "application/json")
    ))

// A failure of `effect/http`'s client (`Wire.transportFailure`): one that reading the body met is the response
// breaking off. A client wrapped in Effect 4's own `withCircuitBreaker` or `withRateLimiter` also fails with their
// refusals, which say what they are: an open circuit (transient, its wait the hint), a limiter that refused.
const fromClientError = (
  provider: string,
  error: HttpClientError.HttpClientError | CircuitBreaker.CircuitBreakerError | RateLimiter.RateLimiterError,
  requestId?: string,
  during: "request" | "response" = "request"
): ModelError.ModelError => {
  if (error._tag !== "HttpClientError") return refusal(provider, error)
  const reason = error.reason
  return Wire.transportFailure(provider, {
    kind: during === "response"
      ? "response"
      : reason._tag === "TransportError"
      ? "transport"
      : reason._tag === "EncodeError" || reason._tag === "InvalidUrlError"
      ? "request"
      : "response",
    reason: reason._tag,
    cause: "cause" in reason ? reason.cause : undefined
  }, requestId)
}

const refusal = (
  provider: string,
  error: CircuitBreaker.CircuitBreakerError | RateLimiter.RateLimiterError
): ModelError.ModelError => {
  const reason = error.reason
  const message = `${provider}: the client's ${
    error._tag === "CircuitBreakerError" ? "circuit breaker" : "rate limiter"
  } refused the request (${reason._tag})`
  switch (reason._tag) {
    case "CircuitOpen":
      return new ModelError.CircuitOpenError({ provider, message, retryAfter: reason.retryAfter })
    case "CircuitHalfOpen":
      return new ModelError.CircuitOpenError({ provider, message })
    case "RateLimitExceeded":
      return new ModelError.RateLimitError({ provider, message, retryAfter: reason.retryAfter })
    default:
      // The breaker's or the limiter's store failed: nothing was sent; worth another try.
      return new ModelError.ConnectionError({ provider, message: `${message}: ${reason.message}`, cause: error })
  }
}
