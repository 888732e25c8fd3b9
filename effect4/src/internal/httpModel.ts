import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Headers from "effect/http/Headers"
import type * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Stream from "effect/Stream"
import type * as Chat from "../core/Chat.js"
import * as HttpRead from "../core/internal/httpRead.js"
import * as Wire from "../core/internal/wire.js"
import type * as ModelError from "../core/ModelError.js"

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
      (httpRequest) => Effect.mapError(client.execute(httpRequest), (error) => fromClientError(adapter.provider, error))
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
// breaking off.
const fromClientError = (
  provider: string,
  error: HttpClientError.HttpClientError,
  requestId?: string,
  during: "request" | "response" = "request"
): ModelError.ModelError => {
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
