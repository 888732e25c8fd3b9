import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import type * as CompletionModel from "../CompletionModel.js"
import * as HttpClassification from "../core/HttpClassification.js"
import * as Wire from "../core/internal/wire.js"
import type * as ModelError from "../core/ModelError.js"
import * as RateLimitHeaders from "../core/RateLimitHeaders.js"
import type { InvalidOptions } from "./options.js"
import { validated } from "./options.js"

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
        Effect.flatMap((response) => open(adapter, stream, response)),
        Effect.timeoutFail({ duration: timeout, onTimeout: timedOut }),
        redactSecrets
      )
  }
}

const httpRequest = (
  adapter: Wire.Adapter,
  request: CompletionModel.ChatRequest
): Effect.Effect<HttpClientRequest.HttpClientRequest, ModelError.ModelError> => {
  const call = adapter.request(request)
  if (Wire.isFailure(call)) return Effect.fail(call)
  const sign = adapter.sign
  const signed = sign === undefined
    ? Effect.succeed(call)
    : Effect.tryPromise({ try: () => sign(call), catch: (error) => Wire.notSigned(adapter, error) })
  return Effect.map(signed, (call) =>
    HttpClientRequest.post(call.url).pipe(
      HttpClientRequest.setHeaders(call.headers),
      HttpClientRequest.bodyText(call.body, "application/json")
    ))
}

interface StreamLimits {
  readonly idleTimeout: Duration.Duration
  readonly contentTimeout: Duration.Duration
}

// Every response's rate-limit headers go to whoever paces the call, as they arrive; a stream's go with its turn too.
const open = (
  adapter: Wire.Adapter,
  limits: StreamLimits,
  response: HttpClientResponse.HttpClientResponse
): Effect.Effect<Stream.Stream<CompletionModel.StreamChunk, ModelError.ModelError>, ModelError.ModelError> =>
  Effect.flatMap(Clock.currentTimeMillis, (openedAt) => {
    const rateLimit = Option.getOrUndefined(RateLimitHeaders.parse(response.headers, openedAt))
    return Effect.zipRight(
      rateLimit === undefined ? Effect.void : RateLimitHeaders.report(rateLimit),
      opened(adapter, limits, response, rateLimit)
    )
  })

const opened = (
  adapter: Wire.Adapter,
  limits: StreamLimits,
  response: HttpClientResponse.HttpClientResponse,
  rateLimit: RateLimitHeaders.RateLimitState | undefined
): Effect.Effect<Stream.Stream<CompletionModel.StreamChunk, ModelError.ModelError>, ModelError.ModelError> => {
  if (response.status < 200 || response.status >= 300) {
    // A body we cannot read still leaves the status to classify by.
    return Effect.flatMap(
      boundedText(response),
      (body) =>
        Effect.flip(HttpClassification.fromResponse({
          provider: adapter.provider,
          status: response.status,
          headers: response.headers,
          body,
          errorTypes: adapter.errorTypes,
          secrets: adapter.secrets
        }))
    )
  }
  const requestId = HttpClassification.requestId(response.headers)
  const contentType = response.headers["content-type"] ?? ""
  if (!contentType.includes(Wire.contentType(adapter))) {
    return Effect.flatMap(
      boundedText(response),
      (body) => Effect.fail(Wire.notAStream(adapter, { status: response.status, contentType, body, requestId }))
    )
  }
  return Effect.succeed(chunks(adapter, limits, response, requestId, rateLimit))
}

/**
 * The start of a body as text, up to `Wire.maxErrorBodyBytes`; a body that cannot be read is empty. The rest is
 * never read.
 *
 * @internal
 */
export const boundedText = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<string> =>
  response.stream.pipe(
    Stream.runFoldWhile(
      { reads: [] as Array<Uint8Array>, length: 0 },
      (read) => read.length < Wire.maxErrorBodyBytes,
      (read, chunk) => {
        read.reads.push(chunk)
        read.length += chunk.length
        return read
      }
    ),
    Effect.map(({ reads }) => Wire.boundedText(reads)),
    Effect.orElseSucceed(() => "")
  )

const chunks = (
  adapter: Wire.Adapter,
  limits: StreamLimits,
  response: HttpClientResponse.HttpClientResponse,
  requestId: string | undefined,
  rateLimit: RateLimitHeaders.RateLimitState | undefined
): Stream.Stream<CompletionModel.StreamChunk, ModelError.ModelError> =>
  Stream.unwrap(Effect.map(Effect.clock, (clock) => {
    const turn = Wire.turn(adapter, {
      requestId,
      rateLimit,
      contentTimeoutMillis: Duration.toMillis(limits.contentTimeout),
      describeContentTimeout: Duration.format(limits.contentTimeout),
      // The clock is read as the read arrives (the sleep-free `unsafe` reading: no effect per read).
      now: () => clock.unsafeCurrentTimeMillis()
    })
    const bytes = Stream.mapError(response.stream, (error) => fromClientError(adapter.provider, error, requestId)).pipe(
      Stream.timeoutFail(
        () =>
          Wire.timedOut(
            adapter.provider,
            `the stream sent nothing for ${Duration.format(limits.idleTimeout)}`,
            requestId
          ),
        limits.idleTimeout
      )
    )
    return bytes.pipe(
      Stream.mapConcat(turn.read),
      Stream.takeUntil(turn.isLast),
      Stream.filter(turn.isChunk),
      Stream.concat(Stream.suspend(() => {
        const failure = turn.end()
        return failure === undefined ? Stream.empty : Stream.fail(failure)
      }))
    )
  }))

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
