import * as Sse from "@effect/experimental/Sse"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as CompletionModel from "../CompletionModel.js"
import * as HttpClassification from "../core/HttpClassification.js"
import * as ModelError from "../core/ModelError.js"
import * as RateLimitHeaders from "../core/RateLimitHeaders.js"
import { InvalidOptions } from "./options.js"

/**
 * Turns the events of one response into chunks. A fresh decoder is made per
 * response, so it may keep state (usage, finish reason) between events.
 * Returning a `TurnFinished` chunk ends the stream.
 *
 * @internal
 */
export type Decoder = (
  event: Sse.Event
) => Either.Either<ReadonlyArray<CompletionModel.StreamChunk>, ModelError.ModelError>

/**
 * What a decoder knows of its response: who sent it, its request id, and the
 * secrets to scrub from any text it keeps.
 *
 * @internal
 */
export interface DecoderContext {
  readonly provider: string
  readonly requestId: string | undefined
  readonly secrets: ReadonlyArray<Redacted.Redacted>
}

/**
 * What a provider adapter supplies; the rest of an HTTP model is shared.
 *
 * @internal
 */
export interface Spec {
  readonly provider: string
  readonly model: string
  /** The HTTP request (signed, where the provider wants that), or an `InvalidRequestError` for what the provider cannot express. */
  readonly request: (
    request: CompletionModel.ChatRequest
  ) => Effect.Effect<HttpClientRequest.HttpClientRequest, ModelError.ModelError>
  /**
   * How the response stream is framed, when it is not server-sent events: its content type and its reader
   * (Bedrock's AWS event stream). Given by the adapter, so the others never load its libraries.
   */
  readonly wire?: {
    readonly contentType: string
    readonly events: (
      facts: { readonly provider: string; readonly requestId?: string }
    ) => <E, R>(
      bytes: Stream.Stream<Uint8Array, E, R>
    ) => Stream.Stream<ReadonlyArray<Sse.Event>, E | ModelError.ModelError, R>
  }
  readonly errorTypes: HttpClassification.ErrorTypeTable
  readonly decoder: (context: DecoderContext) => Decoder
  /** Limit on the acquisition: sending, the status line and, for a failure, its body. Default 10 minutes. */
  readonly timeout: Duration.DurationInput | undefined
  /** Limit on the wait for each piece of an open stream. Default 5 minutes. */
  readonly idleTimeout: Duration.DurationInput | undefined
  /** Limit on the time an open stream goes without content (comments and pings do not count). Default 10 minutes. */
  readonly contentTimeout: Duration.DurationInput | undefined
  /** Header names to redact in spans, on top of `@effect/platform`'s defaults. */
  readonly secretHeaders: ReadonlyArray<string>
  /** Values scrubbed from any text taken from a response (the API key, should a server echo it). */
  readonly secrets: ReadonlyArray<Redacted.Redacted>
}

/**
 * @internal
 */
export const make = (spec: Spec): Effect.Effect<CompletionModel.Service, never, HttpClient.HttpClient> =>
  Effect.map(HttpClient.HttpClient, (client) => {
    // The official SDKs' default for a request; an open stream may idle for half that.
    const timeout = Duration.decode(spec.timeout ?? "10 minutes")
    const idleTimeout = Duration.decode(spec.idleTimeout ?? "5 minutes")
    const limits = { idleTimeout, contentTimeout: Duration.decode(spec.contentTimeout ?? "10 minutes") }
    const redactSecrets = Effect.locallyWith(
      Headers.currentRedactedNames,
      (names) => [...names, ...spec.secretHeaders]
    )
    const timedOut = () =>
      new ModelError.TimeoutError({
        provider: spec.provider,
        message: `${spec.provider}: no response within ${Duration.format(timeout)}`
      })
    return {
      name: spec.provider,
      model: spec.model,
      chatStream: (request) =>
        Effect.flatMap(
          spec.request(request),
          (httpRequest) =>
            Effect.mapError(client.execute(httpRequest), (error) => fromClientError(spec.provider, error))
        ).pipe(
          Effect.flatMap((response) => open(spec, limits, response)),
          Effect.timeoutFail({ duration: timeout, onTimeout: timedOut }),
          redactSecrets
        )
    }
  })

// Every response's rate-limit headers go to whoever paces the call, as they arrive; a stream's go with its turn too.
interface StreamLimits {
  readonly idleTimeout: Duration.Duration
  readonly contentTimeout: Duration.Duration
}

const open = (
  spec: Spec,
  limits: StreamLimits,
  response: HttpClientResponse.HttpClientResponse
): Effect.Effect<Stream.Stream<CompletionModel.StreamChunk, ModelError.ModelError>, ModelError.ModelError> =>
  Effect.flatMap(Clock.currentTimeMillis, (openedAt) => {
    const rateLimit = Option.getOrUndefined(RateLimitHeaders.parse(response.headers, openedAt))
    return Effect.zipRight(
      rateLimit === undefined ? Effect.void : RateLimitHeaders.report(rateLimit),
      opened(spec, limits, response, rateLimit)
    )
  })

const opened = (
  spec: Spec,
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
          provider: spec.provider,
          status: response.status,
          headers: response.headers,
          body,
          errorTypes: spec.errorTypes,
          secrets: spec.secrets
        }))
    )
  }
  const requestId = HttpClassification.requestId(response.headers)
  const contentType = response.headers["content-type"] ?? ""
  if (!contentType.includes(spec.wire?.contentType ?? "text/event-stream")) {
    return Effect.flatMap(boundedText(response), (body) =>
      Effect.fail(
        new ModelError.StreamError({
          provider: spec.provider,
          message: `${spec.provider} answered ${response.status} with ${
            contentType || "no content-type"
          }, not an event stream: ${HttpClassification.safeText(body, spec.secrets, 200)}`,
          status: response.status,
          ...(requestId === undefined ? {} : { requestId })
        })
      ))
  }
  return Effect.succeed(chunks(spec, limits, response, requestId, rateLimit))
}

/**
 * The most of an error body read: 64 KiB. The rest is not read (the
 * connection is closed instead), so a server that answers a 500 with 50 MB
 * costs 64 KiB of memory.
 *
 * @internal
 */
export const maxErrorBodyBytes = 64 * 1024

/**
 * The start of a body as text, up to {@link maxErrorBodyBytes}; a body that
 * cannot be read is empty. The rest is never read.
 *
 * @internal
 */
export const boundedText = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<string> =>
  response.stream.pipe(
    Stream.runFoldWhile(
      { bytes: [] as Array<Uint8Array>, length: 0 },
      (read) => read.length < maxErrorBodyBytes,
      (read, chunk) => {
        read.bytes.push(chunk)
        read.length += chunk.length
        return read
      }
    ),
    Effect.map(({ bytes, length }) => {
      const body = new Uint8Array(Math.min(length, maxErrorBodyBytes))
      let offset = 0
      for (const chunk of bytes) {
        if (offset >= body.length) break
        body.set(chunk.subarray(0, body.length - offset), offset)
        offset += chunk.length
      }
      return new TextDecoder().decode(body)
    }),
    Effect.orElseSucceed(() => "")
  )

const failed: unique symbol = Symbol("failed")

const chunks = (
  spec: Spec,
  limits: StreamLimits,
  response: HttpClientResponse.HttpClientResponse,
  requestId: string | undefined,
  rateLimit: RateLimitHeaders.RateLimitState | undefined
): Stream.Stream<CompletionModel.StreamChunk, ModelError.ModelError> =>
  Stream.unwrap(Effect.map(Effect.clock, (clock) => {
    const decode = spec.decoder({ provider: spec.provider, requestId, secrets: spec.secrets })
    let finished = false
    let failure: ModelError.ModelError | undefined
    // When the stream last carried content (a chunk); a read of comments or pings alone does not count.
    let lastContent: number | undefined
    const contentTimeout = Duration.toMillis(limits.contentTimeout)
    const facts = { provider: spec.provider, ...(requestId === undefined ? {} : { requestId }) }
    const bytes = Stream.mapError(response.stream, (error) => fromClientError(spec.provider, error, requestId)).pipe(
      Stream.timeoutFail(
        () =>
          new ModelError.TimeoutError({
            ...facts,
            message: `${spec.provider}: the stream sent nothing for ${Duration.format(limits.idleTimeout)}`
          }),
        limits.idleTimeout
      )
    )
    // A read's events are decoded in one step, with no effect or stream per event or per read: per event it cost
    // ~50 us (mostly garbage), a stream per read ~100 us. A failure is a marker after the chunks decoded before it,
    // so those still reach the caller first; the stream stops pulling at it, then fails with it.
    const decoded = (batch: ReadonlyArray<Sse.Event>) => {
      const out: Array<CompletionModel.StreamChunk | typeof failed> = []
      const stop = (error: ModelError.ModelError) => {
        failure = error
        out.push(failed)
        return out
      }
      for (const event of batch) {
        const chunks = decode(event)
        if (Either.isLeft(chunks)) return stop(chunks.left)
        for (const chunk of chunks.right) {
          if (chunk._tag === "TurnFinished") {
            // The headers' state goes with the turn's usage, in one place for every adapter.
            out.push(
              rateLimit === undefined ? chunk : CompletionModel.StreamChunk.TurnFinished({ ...chunk, rateLimit })
            )
            finished = true
            return out
          }
          out.push(chunk)
        }
      }
      // The clock is read as the read arrives (the sleep-free `unsafe` reading: no effect per read).
      const now = clock.unsafeCurrentTimeMillis()
      lastContent ??= now
      if (out.length > 0) lastContent = now
      else if (now - lastContent > contentTimeout) {
        return stop(
          new ModelError.TimeoutError({
            ...facts,
            message: `${spec.provider}: the stream sent no content for ${
              Duration.format(limits.contentTimeout)
            }, only comments or pings`
          })
        )
      }
      return out
    }
    return (spec.wire === undefined
      ? eventsPerRead(facts)(Stream.decodeText(bytes))
      : spec.wire.events(facts)(bytes)).pipe(
        Stream.mapConcat(decoded),
        Stream.takeUntil((chunk) => chunk === failed || chunk._tag === "TurnFinished"),
        Stream.filter((chunk): chunk is CompletionModel.StreamChunk => chunk !== failed),
        // The caller must learn that an answer was cut off, not mistake it for a whole one.
        Stream.concat(
          Stream.suspend(() =>
            failure !== undefined ? Stream.fail(failure) : finished ? Stream.empty : Stream.fail(
              new ModelError.StreamError({
                ...facts,
                message: `${spec.provider}: the stream ended before the turn finished`
              })
            )
          )
        )
      )
  }))

/**
 * The most characters one SSE line, or one event's data, may hold: 1 Mi. A
 * longer one fails the stream with a `StreamError`, having buffered at most
 * this plus one network read.
 *
 * @internal
 */
export const maxEventChars = 1024 * 1024

/**
 * Server-sent events from text, with `@effect/experimental`'s parser fed one
 * line at a time.
 *
 * Its `makeChannel` is not used: it makes an oversized event a defect and
 * sleeps on `retry:` fields, neither of which suits a model stream. Nor is the
 * parser fed whole reads: its line scan restarts at the start of its buffer
 * for every line (`for (let index = startingPosition; ...)`, where the line
 * starts at `position + startingPosition`), so one read of n lines costs
 * O(n x read); 1 MB of events in one read took 90 s. Here the lines are found
 * in one pass, the parser sees each line once, and a line's end is always
 * `\n`: a CR that ends one read and an LF that starts the next are one line
 * end, not two.
 *
 * @internal
 */
export const events =
  (facts: { readonly provider: string; readonly requestId?: string }) =>
  <E, R>(text: Stream.Stream<string, E, R>): Stream.Stream<Sse.Event, E | ModelError.ModelError, R> =>
    Stream.flattenIterables(eventsPerRead(facts)(text))

/**
 * {@link events}, the events of each read together.
 *
 * @internal
 */
export const eventsPerRead = (facts: { readonly provider: string; readonly requestId?: string }) =>
<E, R>(
  text: Stream.Stream<string, E, R>
): Stream.Stream<ReadonlyArray<Sse.Event>, E | ModelError.ModelError, R> =>
  Stream.suspend(() => {
    let parsed: Array<Sse.Event> = []
    let tooLarge = false
    const parser = Sse.makeParser((event) => {
      if (event._tag === "Event") parsed.push(event)
    }, { maxEventSize: maxEventChars })
    // The line read so far, in pieces (joined once it ends), and whether an LF that follows is the CR's line end.
    let partial: Array<string> = []
    let partialLength = 0
    let afterCr = false
    const failure = (what: string) =>
      new ModelError.StreamError({
        ...facts,
        message: `${facts.provider}: ${what} is over ${maxEventChars} characters; the stream is refused`
      })
    const line = (text: string) => {
      partial.push(text)
      const whole = partial.join("")
      partial = []
      partialLength = 0
      // `feed` reports a size error once; the event's data is then gone, so the stream ends with it.
      if (parser.feed(`${whole}\n`) !== undefined) tooLarge = true
    }
    const feed = (piece: string): Effect.Effect<Array<Sse.Event>, ModelError.ModelError> => {
      let start = 0
      if (afterCr && piece.startsWith("\n")) start = 1
      afterCr = false
      for (let i = start; i < piece.length; i++) {
        const c = piece.charCodeAt(i)
        if (c !== 10 && c !== 13) continue
        line(piece.slice(start, i))
        if (c === 13) {
          if (i + 1 < piece.length) {
            if (piece.charCodeAt(i + 1) === 10) i++
          } else afterCr = true
        }
        start = i + 1
      }
      if (start < piece.length) {
        partial.push(piece.slice(start))
        partialLength += piece.length - start
      }
      const out = parsed
      parsed = []
      if (tooLarge) return Effect.fail(failure("an event"))
      if (partialLength > maxEventChars) return Effect.fail(failure("a line"))
      return Effect.succeed(out)
    }
    return Stream.mapEffect(text, feed)
  })

/**
 * A transport failure: the connection was refused, reset or closed early
 * (transient), or the request could not be built (permanent). Only the cause's
 * code and message are kept: the platform error holds the request, headers
 * and all.
 *
 * @internal
 */
export const fromClientError = (
  provider: string,
  error: HttpClientError.HttpClientError,
  requestId?: string
): ModelError.ModelError => {
  const facts = { provider, ...(requestId === undefined ? {} : { requestId }) }
  const cause = describe(error.cause)
  if (error._tag === "RequestError" && error.reason !== "Transport") {
    return new ModelError.InvalidRequestError({
      ...facts,
      message: `${provider}: the request could not be sent (${error.reason}${cause ? `: ${cause}` : ""})`
    })
  }
  return new ModelError.ConnectionError({
    ...facts,
    message: `${provider}: ${error._tag === "RequestError" ? "connection failed" : "the response broke off"}${
      cause ? ` (${cause})` : ""
    }`,
    ...(error.cause === undefined ? {} : { cause: error.cause })
  })
}

const describe = (cause: unknown): string | undefined => {
  if (!(cause instanceof Error)) return cause === undefined ? undefined : String(cause)
  const code = Predicate.hasProperty(cause, "code") && Predicate.isString(cause.code) ? cause.code : undefined
  const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : ""
  return `${code ? `${code} ` : ""}${cause.message}${inner}`
}

/**
 * What a provider cannot express in a request: an `InvalidRequestError`,
 * before anything is sent.
 *
 * @internal
 */
export const unsupported = (provider: string, what: string): ModelError.ModelError =>
  new ModelError.InvalidRequestError({ provider, message: `${provider} cannot take ${what}; nothing was sent` })

/**
 * The most characters of arguments one tool call may stream: 1 Mi (more
 * than any model's whole output today: 128k output tokens are about 512 Ki
 * characters). Past it the stream fails with a `StreamError` naming the call.
 *
 * @internal
 */
export const maxToolArgumentChars = 1024 * 1024

/**
 * The most characters of arguments all the tool calls of one turn may stream
 * together: 4 Mi. An adapter holds a call's arguments until the call ends
 * (OpenAI's all until the turn ends), so this bounds what a turn can make it
 * hold: about 8 MB.
 *
 * @internal
 */
export const maxTurnToolArgumentChars = 4 * 1024 * 1024

/**
 * The most tool calls one turn may make: 128 (OpenAI's bound on the tools of
 * one request, for the calls of one answer).
 *
 * @internal
 */
export const maxToolCalls = 128

/**
 * The tool calls open in one response, by the provider's index (a content
 * block's, or a tool call's), each with its arguments' JSON so far: what
 * every adapter turns into `ToolCallStart`, `ToolCallDelta` and `ToolCallEnd`.
 * Bounded: {@link maxToolCalls} calls, {@link maxToolArgumentChars} of
 * arguments a call, {@link maxTurnToolArgumentChars} a turn; past a bound,
 * a `StreamError` naming the call and the bound.
 *
 * @internal
 */
export const toolCalls = (facts: DecoderContext) => {
  const open = new Map<number, { readonly id: string; readonly name: string; json: string }>()
  let started = 0
  let turnChars = 0
  const refused = (call: { readonly id: string; readonly name: string }, why: string) =>
    Either.left(
      new ModelError.StreamError({
        provider: facts.provider,
        ...(facts.requestId === undefined ? {} : { requestId: facts.requestId }),
        message: `${facts.provider}: tool call ${call.id} (${call.name}) ${why}; the stream is refused`
      })
    )
  const ended = (call: { readonly id: string; readonly name: string; readonly json: string }) =>
    Either.map(
      toolArguments(facts, call),
      (args) => CompletionModel.StreamChunk.ToolCallEnd({ id: call.id, name: call.name, arguments: args })
    )
  return {
    isOpen: (index: number): boolean => open.has(index),
    start: (
      index: number,
      id: string,
      name: string
    ): Either.Either<ReadonlyArray<CompletionModel.StreamChunk>, ModelError.ModelError> => {
      if (++started > maxToolCalls) {
        return refused({ id, name }, `is call ${started} of the turn, over the bound of ${maxToolCalls} calls a turn`)
      }
      open.set(index, { id, name, json: "" })
      return Either.right([CompletionModel.StreamChunk.ToolCallStart({ id, name })])
    },
    /** The next piece of a call's arguments; nothing for an unknown call or an empty piece. */
    delta: (
      index: number,
      json: string | null | undefined
    ): Either.Either<ReadonlyArray<CompletionModel.StreamChunk>, ModelError.ModelError> => {
      const call = open.get(index)
      if (call === undefined || !json) return Either.right([])
      if (call.json.length + json.length > maxToolArgumentChars) {
        return refused(call, `has over ${maxToolArgumentChars} characters of arguments, the bound on one call`)
      }
      turnChars += json.length
      if (turnChars > maxTurnToolArgumentChars) {
        return refused(
          call,
          `takes the turn's tool-call arguments over ${maxTurnToolArgumentChars} characters, the bound on one turn`
        )
      }
      call.json += json
      return Either.right([CompletionModel.StreamChunk.ToolCallDelta({ id: call.id, argumentsDelta: json })])
    },
    /** The call at `index` ends (nothing if none is open); arguments that are not JSON are a `StreamError`. */
    end: (index: number): Either.Either<ReadonlyArray<CompletionModel.StreamChunk>, ModelError.ModelError> => {
      const call = open.get(index)
      if (call === undefined) return Either.right([])
      open.delete(index)
      return Either.map(ended(call), (chunk) => [chunk])
    },
    /** Every open call ends, in the order they started. */
    endAll: (): Either.Either<ReadonlyArray<CompletionModel.StreamChunk>, ModelError.ModelError> => {
      const calls = [...open.values()]
      open.clear()
      return Either.all(calls.map(ended))
    }
  }
}

// The arguments of a finished tool call: its JSON, `{}` for none, or a `StreamError` naming the call.
const toolArguments = (
  facts: DecoderContext,
  call: { readonly id: string; readonly name: string; readonly json: string }
): Either.Either<unknown, ModelError.ModelError> => {
  if (call.json.trim() === "") return Either.right({})
  try {
    return Either.right(JSON.parse(call.json))
  } catch {
    return Either.left(
      new ModelError.StreamError({
        provider: facts.provider,
        ...(facts.requestId === undefined ? {} : { requestId: facts.requestId }),
        message: `${facts.provider}: the arguments of tool call ${call.id} (${call.name}) are not JSON: ${
          HttpClassification.safeText(call.json, facts.secrets, 200)
        }`
      })
    )
  }
}

/**
 * A decoder for the JSON data of events of one shape: the value, or a
 * `StreamError` that says which event was malformed and how.
 *
 * @internal
 */
export const decodeEvent = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknownEither(Schema.parseJson(schema))
  return (facts: DecoderContext, event: Sse.Event): Either.Either<A, ModelError.ModelError> =>
    Either.mapLeft(decode(event.data), (error) => {
      const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
      const why = issue === undefined ? "invalid" : `${issue.path.join(".") || "data"}: ${issue.message}`
      return new ModelError.StreamError({
        provider: facts.provider,
        ...(facts.requestId === undefined ? {} : { requestId: facts.requestId }),
        message: `${facts.provider}: malformed ${event.event} event (${why}): ${
          HttpClassification.safeText(event.data, facts.secrets, 200)
        }`
      })
    })
}

/**
 * An adapter's base URL, checked, with a trailing slash so that relative paths
 * resolve below it (`new URL("v1/messages", "http://host/proxy/")`).
 *
 * @internal
 */
export const parseBaseUrl = (adapter: string, url: string): Either.Either<URL, string> => {
  const parsed = URL.canParse(url) ? new URL(url) : undefined
  return parsed !== undefined && (parsed.protocol === "http:" || parsed.protocol === "https:")
    ? Either.right(new URL(parsed.href.endsWith("/") ? parsed.href : `${parsed.href}/`))
    : Either.left(`${adapter}: the base URL must be an absolute http(s) URL, got ${JSON.stringify(url)}`)
}

/**
 * A credential given in code, checked to be a `Redacted`: a plain string would
 * otherwise fail at the first request with Effect's "Unable to get redacted
 * value", and says nothing of what to pass. A programming error, thrown where
 * the layer is built.
 *
 * @internal
 */
export const credential = (adapter: string, field: string, value: unknown): Redacted.Redacted<string> => {
  if (Redacted.isRedacted(value)) return value as Redacted.Redacted<string>
  throw invalid(
    adapter,
    field,
    `must be a Redacted, e.g. Redacted.make(key), or Config.redacted("...") with layerConfig; got ${
      value === null ? "null" : typeof value
    }`
  )
}

// An adapter's option refused (`field` a dotted path): read by `validated` into the error channel of the adapter's
// `make` and `layer`.
const invalid = (adapter: string, field: string, problem: string, message = `${adapter}: ${field} ${problem}`) =>
  new InvalidOptions({ of: adapter, message, issues: [{ _tag: "Type", path: field.split("."), message: problem }] })

/**
 * {@link parseBaseUrl} for options given in code: a bad URL is an
 * `InvalidOptions`, thrown for the adapter's `make` to fail with.
 *
 * @internal
 */
export const baseUrl = (adapter: string, url: string, field = "baseUrl"): URL =>
  Either.getOrThrowWith(parseBaseUrl(adapter, url), (message) => invalid(adapter, field, message, message))

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
      return url === undefined ? Either.right(layer(resolved)) : Either.match(parseBaseUrl(adapter, url), {
        onLeft: (message) => Either.left(ConfigError.InvalidData([field], message)),
        onRight: () => Either.right(layer(resolved))
      })
    })
  )
