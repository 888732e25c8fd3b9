import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type * as CompletionModel from "../CompletionModel.js"
import * as HttpRead from "../core/internal/httpRead.js"
import type { InvalidOptions } from "../core/internal/invalidOptions.js"
import { validated } from "../core/internal/invalidOptions.js"
import * as Wire from "../core/internal/wire.js"
import type * as ModelError from "../core/ModelError.js"

/**
 * An adapter's limits on time.
 *
 * @internal
 */
export interface Limits {
  /** Limit on the acquisition: sending, the status line and, for a failure, its body. Default 10 minutes. */
  readonly timeout?: Duration.DurationInput | undefined
  /** Limit on the wait for each piece of an open stream. Default 5 minutes. */
  readonly idleTimeout?: Duration.DurationInput | undefined
  /** Limit on the time an open stream goes without content (comments and pings do not count). Default 10 minutes. */
  readonly contentTimeout?: Duration.DurationInput | undefined
}

/**
 * A `CompletionModel` that runs an adapter (`core/internal/wire`) over `@effect/platform`'s `HttpClient`; the
 * adapter is built from its options inside the Effect, so a bad option fails it with `InvalidOptions`.
 *
 * @internal
 */
export const make = (
  build: () => Wire.Adapter,
  limits: Limits
): Effect.Effect<CompletionModel.Service, InvalidOptions, HttpClient.HttpClient> =>
  validated(() => {
    const adapter = build()
    return Effect.map(HttpClient.HttpClient, (client) => service(adapter, limits, client))
  })

const service = (adapter: Wire.Adapter, limits: Limits, client: HttpClient.HttpClient): CompletionModel.Service => {
  // The official SDKs' default for a request; an open stream may idle for half that.
  const timeout = Duration.decode(limits.timeout ?? "10 minutes")
  const stream = {
    idleTimeout: Duration.decode(limits.idleTimeout ?? "5 minutes"),
    contentTimeout: Duration.decode(limits.contentTimeout ?? "10 minutes")
  }
  const redactSecrets = Effect.locallyWith(
    Headers.currentRedactedNames,
    (names) => [...names, ...adapter.secretHeaders]
  )
  const timedOut = () => Wire.timedOut(adapter.provider, `no response within ${Duration.format(timeout)}`)
  return {
    name: adapter.provider,
    model: adapter.model,
    chatStream: (request) =>
      Effect.flatMap(
        httpRequest(adapter, request),
        (httpRequest) =>
          Effect.mapError(client.execute(httpRequest), (error) => fromClientError(adapter.provider, error))
      ).pipe(
        Effect.flatMap((response) =>
          HttpRead.open(adapter, response, (requestId, rateLimit) =>
            HttpRead.turnStream(
              adapter,
              stream,
              Stream.mapError(response.stream, (error) => fromClientError(adapter.provider, error, requestId)),
              requestId,
              rateLimit
            ))
        ),
        Effect.timeoutFail({ duration: timeout, onTimeout: timedOut }),
        redactSecrets
      )
  }
}

// The adapter's call as this line's request.
const httpRequest = (
  adapter: Wire.Adapter,
  request: CompletionModel.ChatRequest
): Effect.Effect<HttpClientRequest.HttpClientRequest, ModelError.ModelError> =>
  Effect.map(HttpRead.call(adapter, request), (call) =>
    HttpClientRequest.post(call.url).pipe(
      HttpClientRequest.setHeaders(call.headers),
      HttpClientRequest.bodyText(call.body, "application/json")
    ))

/**
 * A transport failure of `@effect/platform`'s client, as a `ModelError` (`Wire.transportFailure`).
 *
 * @internal
 */
export const fromClientError = (
  provider: string,
  error: HttpClientError.HttpClientError,
  requestId?: string
): ModelError.ModelError =>
  Wire.transportFailure(provider, {
    kind: error._tag === "RequestError" ? error.reason === "Transport" ? "transport" : "request" : "response",
    reason: error.reason,
    cause: error.cause
  }, requestId)

/**
 * `layerConfig` for an adapter: the options read from `Config`, with a bad
 * base URL reported as a `ConfigError` rather than a defect.
 *
 * @internal
 */
export const layerConfig = <Options, Out, E, R>(
  adapter: string,
  options: Config.Config.Wrap<Options>,
  layer: (options: Options) => Layer.Layer<Out, E, R>,
  urlOf: (options: Options) => readonly [field: string, url: string | undefined]
): Layer.Layer<Out, ConfigError.ConfigError | E, R> =>
  Layer.unwrapEffect(
    Config.mapOrFail(Config.unwrap(options), (resolved) => {
      const [field, url] = urlOf(resolved)
      const parsed = url === undefined ? undefined : Wire.parseBaseUrl(adapter, url)
      return typeof parsed === "string"
        ? Either.left(ConfigError.InvalidData([field], parsed))
        : Either.right(layer(resolved))
    })
  )
