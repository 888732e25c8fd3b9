/**
 * Reading an adapter's HTTP response, written against what both lines' HTTP clients give (a status, headers and
 * a body stream): the rate-limit headers reported, a failure status classified, a 2xx that is not the adapter's
 * stream refused. Each line's `internal/httpModel.ts` sends the call and reads the open stream.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { clockReader, idleTimeout, mapConcat } from "../../internal/compatWire.js"
import type * as Chat from "../Chat.js"
import * as HttpClassification from "../HttpClassification.js"
import type * as ModelError from "../ModelError.js"
import * as RateLimitHeaders from "../RateLimitHeaders.js"
import * as Wire from "./wire.js"

/**
 * The call an adapter makes of a request, signed where it signs: an `InvalidRequestError` for what the provider
 * cannot express, or a call its signer refused, before anything is sent.
 */
export const call = (
  adapter: Wire.Adapter,
  request: Chat.ChatRequest
): Effect.Effect<Wire.HttpCall, ModelError.ModelError> => {
  const built = adapter.request(request)
  if (Wire.isFailure(built)) return Effect.fail(built)
  const sign = adapter.sign
  return sign === undefined
    ? Effect.succeed(built)
    : Effect.tryPromise({ try: () => sign(built), catch: (error) => Wire.notSigned(adapter, error) })
}

/** What both lines' HTTP responses have. */
export interface Response<E> {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly stream: Stream.Stream<Uint8Array, E>
}

/** The chunks of an open stream, read by the line (its idle timeout and its stream's spelling). */
export type Chunks = (
  requestId: string | undefined,
  rateLimit: RateLimitHeaders.RateLimitState | undefined
) => Stream.Stream<Chat.StreamChunk, ModelError.ModelError>

/**
 * A response opened: its rate-limit headers reported to whoever paces the call (and kept for the turn's end), a
 * failure status classified with the start of its body, a 2xx that is not the adapter's stream refused, and
 * otherwise the stream `chunks` reads.
 */
export const open = <E>(
  adapter: Wire.Adapter,
  response: Response<E>,
  chunks: Chunks
): Effect.Effect<Stream.Stream<Chat.StreamChunk, ModelError.ModelError>, ModelError.ModelError> =>
  Effect.flatMap(Clock.currentTimeMillis, (openedAt) => {
    const rateLimit = Option.getOrUndefined(RateLimitHeaders.parse(response.headers, openedAt))
    return Effect.andThen(
      rateLimit === undefined ? Effect.void : RateLimitHeaders.report(rateLimit),
      opened(adapter, response, chunks, rateLimit)
    )
  })

const opened = <E>(
  adapter: Wire.Adapter,
  response: Response<E>,
  chunks: Chunks,
  rateLimit: RateLimitHeaders.RateLimitState | undefined
): Effect.Effect<Stream.Stream<Chat.StreamChunk, ModelError.ModelError>, ModelError.ModelError> => {
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
  return Effect.succeed(chunks(requestId, rateLimit))
}

/**
 * The start of a body as text, up to `Wire.maxErrorBodyBytes`; a body that cannot be read is empty. The rest is
 * never read (the connection is closed instead).
 */
export const boundedText = <E>(response: Response<E>): Effect.Effect<string> =>
  Effect.suspend(() => {
    const reads: Array<Uint8Array> = []
    let length = 0
    return response.stream.pipe(
      Stream.takeUntil((read) => {
        reads.push(read)
        length += read.length
        return length >= Wire.maxErrorBodyBytes
      }),
      Stream.runDrain,
      Effect.map(() => Wire.boundedText(reads)),
      Effect.orElseSucceed(() => "")
    )
  })

/** An adapter's limits on an open stream. */
export interface StreamLimits {
  /** Limit on the wait for each piece of the body. */
  readonly idleTimeout: Duration.Duration
  /** Limit on the time the stream goes without content (comments and pings do not count). */
  readonly contentTimeout: Duration.Duration
}

/**
 * The chunks of an open stream, from its body's reads (their failures already `ModelError`s): the idle bound,
 * then the adapter's turn (`Wire.turn`) read by reads, the clock read as each read arrives (no effect per read),
 * the stream stopped at the turn's end or its failure, and failed with what `Wire.turn` says it ends with.
 */
export const turnStream = (
  adapter: Wire.Adapter,
  limits: StreamLimits,
  body: Stream.Stream<Uint8Array, ModelError.ModelError>,
  requestId: string | undefined,
  rateLimit: RateLimitHeaders.RateLimitState | undefined
): Stream.Stream<Chat.StreamChunk, ModelError.ModelError> =>
  Stream.unwrap(Effect.map(clockReader, (now) => {
    const turn = Wire.turn(adapter, {
      requestId,
      rateLimit,
      contentTimeoutMillis: Duration.toMillis(limits.contentTimeout),
      describeContentTimeout: Duration.format(limits.contentTimeout),
      now
    })
    return body.pipe(
      idleTimeout(
        limits.idleTimeout,
        () =>
          Wire.timedOut(
            adapter.provider,
            `the stream sent nothing for ${Duration.format(limits.idleTimeout)}`,
            requestId
          )
      ),
      mapConcat(turn.read),
      Stream.takeUntil(turn.isLast),
      Stream.filter(turn.isChunk),
      Stream.concat(Stream.suspend(() => {
        const failure = turn.end()
        return failure === undefined ? Stream.empty : Stream.fail(failure)
      }))
    )
  }))
