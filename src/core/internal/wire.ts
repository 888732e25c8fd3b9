/**
 * A provider's wire, without Effect: what an adapter sends (`HttpCall`), how the bytes of its answer become
 * events (server-sent events, or AWS's event stream), and how its events become `Chat.StreamChunk`s, with every
 * bound on what a response can make a process hold. Each line's `internal/httpModel` only runs it: sends the
 * call, reads the body, times it.
 */
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import type { JsonSchema } from "../../internal/compatWire.js"
import { decodeJson, makeSseParser } from "../../internal/compatWire.js"
import * as Chat from "../Chat.js"
import type * as HttpClassification from "../HttpClassification.js"
import { safeText } from "../HttpClassification.js"
import * as ModelError from "../ModelError.js"
import type * as RateLimitHeaders from "../RateLimitHeaders.js"
import { InvalidOptions } from "./invalidOptions.js"

/** One event of a response: its type (`content_block_delta`, `contentBlockDelta`, ...) and its data. */
export interface WireEvent {
  readonly event: string
  readonly data: string
}

/** A value, or the `ModelError` that stops the stream. */
export type Decoded<A> = A | ModelError.ModelError

/** What a decoder makes of one event. */
export type Chunks = Decoded<ReadonlyArray<Chat.StreamChunk>>

/** Turns the events of one response into chunks; a fresh one per response, so it may keep state. */
export type Decoder = (event: WireEvent) => Chunks

/** Who sent a response, its request id, and the secrets to scrub from any text taken from it. */
export interface Facts {
  readonly provider: string
  readonly requestId?: string | undefined
}

/** {@link Facts} with the secrets to scrub. */
export interface DecoderContext extends Facts {
  readonly secrets: ReadonlyArray<Redacted.Redacted>
}

/** A request as an adapter builds it: the line's HTTP client sends it (POST, a JSON body). */
export interface HttpCall {
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/**
 * An adapter: what it sends for a request, how its answer is framed and decoded, its error types and its
 * secrets. Everything an Effect line needs to run it over its HTTP client.
 */
export interface Adapter {
  readonly provider: string
  readonly model: string
  readonly errorTypes: HttpClassification.ErrorTypeTable
  /** The call for a request, or an `InvalidRequestError` for what the provider cannot express (nothing sent). */
  readonly request: (request: Chat.ChatRequest) => Decoded<HttpCall>
  /** Signs a call (Bedrock's SigV4); a rejection is an `InvalidRequestError`. */
  readonly sign?: (call: HttpCall) => Promise<HttpCall>
  /**
   * How its stream is framed when it is not server-sent events: its content type and its framer (Bedrock's AWS
   * event stream). Given by the adapter, so that the others never load its libraries.
   */
  readonly wire?: {
    readonly contentType: string
    readonly frames: (facts: Facts) => Framer<Uint8Array>
  }
  readonly decoder: (context: DecoderContext) => Decoder
  /** Header names to redact in spans, on top of the platform's defaults. */
  readonly secretHeaders: ReadonlyArray<string>
  /** Values scrubbed from any text taken from a response (the API key, should a server echo it). */
  readonly secrets: ReadonlyArray<Redacted.Redacted>
}

/** The content type an adapter's stream must have. */
export const contentType = (adapter: Adapter): string => adapter.wire?.contentType ?? "text/event-stream"

/** Whether a decoded value is the failure. */
export const isFailure = <A>(decoded: Decoded<A>): decoded is ModelError.ModelError => ModelError.isModelError(decoded)

/** `f` over a value; a failure as it is. */
export const map = <A, B>(decoded: Decoded<A>, f: (a: A) => B): Decoded<B> => isFailure(decoded) ? decoded : f(decoded)

/** `f` over a value, which may fail; a failure as it is. */
export const flatMap = <A, B>(decoded: Decoded<A>, f: (a: A) => Decoded<B>): Decoded<B> =>
  isFailure(decoded) ? decoded : f(decoded)

/** Every value, or the first failure. */
export const all = <A>(decoded: ReadonlyArray<Decoded<A>>): Decoded<Array<A>> => {
  const out: Array<A> = []
  for (const one of decoded) {
    if (isFailure(one)) return one
    out.push(one)
  }
  return out
}

/** No chunks. */
export const none: ReadonlyArray<Chat.StreamChunk> = []

/**
 * What a provider cannot express in a request: an `InvalidRequestError`, before anything is sent.
 */
export const unsupported = (provider: string, what: string): ModelError.ModelError =>
  new ModelError.InvalidRequestError({ provider, message: `${provider} cannot take ${what}; nothing was sent` })

// Options ---------------------------------------------------------------------

/**
 * An adapter's base URL, checked, with a trailing slash so that relative paths resolve below it
 * (`new URL("v1/messages", "http://host/proxy/")`); or what is wrong with it.
 */
export const parseBaseUrl = (adapter: string, url: string): URL | string => {
  const parsed = URL.canParse(url) ? new URL(url) : undefined
  return parsed !== undefined && (parsed.protocol === "http:" || parsed.protocol === "https:")
    ? new URL(parsed.href.endsWith("/") ? parsed.href : `${parsed.href}/`)
    : `${adapter}: the base URL must be an absolute http(s) URL, got ${JSON.stringify(url)}`
}

/**
 * What is wrong with a credential given in code, if anything: it must be a `Redacted` (a plain string would fail
 * at the first request with Effect's "Unable to get redacted value", which says nothing of what to pass).
 */
export const credentialProblem = (value: unknown): string | undefined =>
  Redacted.isRedacted(value)
    ? undefined
    : `must be a Redacted, e.g. Redacted.make(key), or Config.redacted("...") with layerConfig; got ${
      value === null ? "null" : typeof value
    }`

/**
 * {@link parseBaseUrl} for options given in code: a bad URL is an `InvalidOptions`, thrown for the adapter's
 * `make` to fail with.
 */
export const baseUrl = (adapter: string, url: string, field = "baseUrl"): URL => {
  const parsed = parseBaseUrl(adapter, url)
  if (typeof parsed === "string") throw invalid(adapter, field, parsed, parsed)
  return parsed
}

/** A credential given in code, checked by {@link credentialProblem}; thrown as an `InvalidOptions`. */
export const credential = (adapter: string, field: string, value: unknown): Redacted.Redacted<string> => {
  const problem = credentialProblem(value)
  if (problem !== undefined) throw invalid(adapter, field, problem)
  return value as Redacted.Redacted<string>
}

// An adapter's option refused (`field` a dotted path).
const invalid = (adapter: string, field: string, problem: string, message = `${adapter}: ${field} ${problem}`) =>
  new InvalidOptions({ of: adapter, message, issues: [{ _tag: "Type", path: field.split("."), message: problem }] })

// Reading a response -----------------------------------------------------------

/**
 * The most characters one SSE line, or one event's data, may hold: 1 Mi. A longer one fails the stream with a
 * `StreamError`, having buffered at most this plus one network read.
 */
export const maxEventChars = 1024 * 1024

/** Events from the reads of a body: those a read completed, and the failure that stops the stream, if any. */
export type Framer<Read> = (read: Read) => {
  readonly events: ReadonlyArray<WireEvent>
  readonly failure: ModelError.ModelError | undefined
}

/**
 * Server-sent events from text, with the line's SSE parser fed one line at a time.
 *
 * The platform's SSE channel is not used: it makes an oversized event a defect and sleeps on `retry:` fields,
 * neither of which suits a model stream. Nor is the parser fed whole reads: Effect 3's line scan restarts at the
 * start of its buffer for every line, so one read of n lines cost O(n x read) (1 MB of events in one read took
 * 90 s). Here the lines are found in one pass, the parser sees each line once, and a line's end is always `\n`:
 * a CR that ends one read and an LF that starts the next are one line end, not two.
 */
export const sse = (facts: Facts): Framer<string> => {
  let parsed: Array<WireEvent> = []
  let tooLarge = false
  const parser = makeSseParser((event) => {
    if (event._tag === "Event") parsed.push(event)
  }, { maxEventSize: maxEventChars })
  // The line read so far, in pieces (joined once it ends), and whether an LF that follows is the CR's line end.
  let partial: Array<string> = []
  let partialLength = 0
  let afterCr = false
  const failure = (what: string) =>
    new ModelError.StreamError({
      provider: facts.provider,
      ...(facts.requestId === undefined ? {} : { requestId: facts.requestId }),
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
  return (piece) => {
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
    const events = parsed
    parsed = []
    return {
      events,
      failure: tooLarge ? failure("an event") : partialLength > maxEventChars ? failure("a line") : undefined
    }
  }
}

/** The framer for an adapter's stream, over the bytes of its body. */
export const framer = (adapter: Adapter, facts: Facts): Framer<Uint8Array> => {
  if (adapter.wire !== undefined) return adapter.wire.frames(facts)
  const text = sse(facts)
  const decoder = new TextDecoder()
  return (read) => text(decoder.decode(read, { stream: true }))
}

const failed: unique symbol = Symbol("failed")

/** A chunk of a turn, or the marker after which the stream fails with {@link Turn.end}'s failure. */
export type Item = Chat.StreamChunk | typeof failed

/**
 * One response's turn, read by reads: the framing, the decoder, the bound on time without content, and the
 * rate-limit headers attached to the turn's end. `read` gives the chunks of one read (a failure as a marker after
 * the chunks decoded before it, so those still reach the caller first); `isLast` says where the stream stops
 * pulling; `end` is the failure the stream ends with, if any (a cut-off answer is one: the caller must not
 * mistake it for a whole one). A read's events are decoded in one step, with no effect or stream per event or per
 * read: per event it cost ~50 us (mostly garbage), a stream per read ~100 us.
 */
export interface Turn {
  readonly read: (read: Uint8Array) => Array<Item>
  readonly isLast: (item: Item) => boolean
  readonly isChunk: (item: Item) => item is Chat.StreamChunk
  readonly end: () => ModelError.ModelError | undefined
}

/** Reads one response's turn; `now` is the clock read as each read arrives. */
export const turn = (
  adapter: Adapter,
  options: {
    readonly requestId: string | undefined
    readonly rateLimit: RateLimitHeaders.RateLimitState | undefined
    readonly contentTimeoutMillis: number
    readonly describeContentTimeout: string
    readonly now: () => number
  }
): Turn => {
  const facts = {
    provider: adapter.provider,
    ...(options.requestId === undefined ? {} : { requestId: options.requestId })
  }
  const frame = framer(adapter, facts)
  const decode = adapter.decoder({ ...facts, secrets: adapter.secrets })
  let finished = false
  let failure: ModelError.ModelError | undefined
  // When the stream last carried content (a chunk); a read of comments or pings alone does not count.
  let lastContent: number | undefined
  const read = (bytes: Uint8Array): Array<Item> => {
    const out: Array<Item> = []
    const stop = (error: ModelError.ModelError) => {
      failure = error
      out.push(failed)
      return out
    }
    const framed = frame(bytes)
    for (const event of framed.events) {
      const chunks = decode(event)
      if (isFailure(chunks)) return stop(chunks)
      for (const chunk of chunks) {
        if (chunk._tag === "TurnFinished") {
          // The headers' state goes with the turn's usage, in one place for every adapter.
          out.push(
            options.rateLimit === undefined
              ? chunk
              : Chat.StreamChunk.TurnFinished({ ...chunk, rateLimit: options.rateLimit })
          )
          finished = true
          return out
        }
        out.push(chunk)
      }
    }
    if (framed.failure !== undefined) return stop(framed.failure)
    const now = options.now()
    lastContent ??= now
    if (out.length > 0) lastContent = now
    else if (now - lastContent > options.contentTimeoutMillis) {
      return stop(
        new ModelError.TimeoutError({
          ...facts,
          message:
            `${adapter.provider}: the stream sent no content for ${options.describeContentTimeout}, only comments or pings`
        })
      )
    }
    return out
  }
  return {
    read,
    isLast: (item) => item === failed || item._tag === "TurnFinished",
    isChunk: (item): item is Chat.StreamChunk => item !== failed,
    end: () =>
      failure ?? (finished ? undefined : new ModelError.StreamError({
        ...facts,
        message: `${adapter.provider}: the stream ended before the turn finished`
      }))
  }
}

/** A 2xx answer that is not the adapter's stream (a proxy's HTML page, JSON from a misrouted call). */
export const notAStream = (
  adapter: Adapter,
  response: {
    readonly status: number
    readonly contentType: string
    readonly body: string
    readonly requestId?: string | undefined
  }
): ModelError.ModelError =>
  new ModelError.StreamError({
    provider: adapter.provider,
    message: `${adapter.provider} answered ${response.status} with ${
      response.contentType || "no content-type"
    }, not an event stream: ${safeText(response.body, adapter.secrets, 200)}`,
    status: response.status,
    ...(response.requestId === undefined ? {} : { requestId: response.requestId })
  })

/** A limit on time passed: `what` says which (`no response within 10m`). */
export const timedOut = (provider: string, what: string, requestId?: string): ModelError.ModelError =>
  new ModelError.TimeoutError({
    provider,
    message: `${provider}: ${what}`,
    ...(requestId === undefined ? {} : { requestId })
  })

/** A call the adapter's signer refused. */
export const notSigned = (adapter: Adapter, error: unknown): ModelError.ModelError =>
  new ModelError.InvalidRequestError({
    provider: adapter.provider,
    message: `${adapter.provider}: the request could not be signed (${error instanceof Error ? error.message : "?"})`
  })

/**
 * The most of an error body read: 64 KiB. The rest is not read (the connection is closed instead), so a server
 * that answers a 500 with 50 MB costs 64 KiB of memory.
 */
export const maxErrorBodyBytes = 64 * 1024

/** The reads of a body's start, up to {@link maxErrorBodyBytes}, as text. */
export const boundedText = (reads: ReadonlyArray<Uint8Array>): string => {
  const length = reads.reduce((sum, read) => sum + read.length, 0)
  const body = new Uint8Array(Math.min(length, maxErrorBodyBytes))
  let offset = 0
  for (const read of reads) {
    if (offset >= body.length) break
    body.set(read.subarray(0, body.length - offset), offset)
    offset += read.length
  }
  return new TextDecoder().decode(body)
}

/**
 * A transport failure: the connection was refused, reset or closed early (transient), or the request could not
 * be built (permanent). Only the cause's code and message are kept: the platform's error holds the request,
 * headers and all.
 */
export const transportFailure = (
  provider: string,
  failure: { readonly kind: "request" | "transport" | "response"; readonly reason: string; readonly cause: unknown },
  requestId?: string
): ModelError.ModelError => {
  const facts = { provider, ...(requestId === undefined ? {} : { requestId }) }
  const cause = describe(failure.cause)
  if (failure.kind === "request") {
    return new ModelError.InvalidRequestError({
      ...facts,
      message: `${provider}: the request could not be sent (${failure.reason}${cause ? `: ${cause}` : ""})`
    })
  }
  return new ModelError.ConnectionError({
    ...facts,
    message: `${provider}: ${failure.kind === "transport" ? "connection failed" : "the response broke off"}${
      cause ? ` (${cause})` : ""
    }`,
    ...(failure.cause === undefined ? {} : { cause: failure.cause })
  })
}

const describe = (cause: unknown): string | undefined => {
  if (!(cause instanceof Error)) return cause === undefined ? undefined : String(cause)
  const code = Predicate.hasProperty(cause, "code") && Predicate.isString(cause.code) ? cause.code : undefined
  const inner = cause.cause instanceof Error ? `: ${cause.cause.message}` : ""
  return `${code ? `${code} ` : ""}${cause.message}${inner}`
}

// Decoding events ----------------------------------------------------------------

/**
 * A decoder for the JSON data of events of one shape: the value, or a `StreamError` that says which event was
 * malformed and how.
 */
export const decodeEvent = <A>(schema: JsonSchema<A>) => {
  const decode = decodeJson<A>(schema)
  return (facts: DecoderContext, event: WireEvent): Decoded<A> => {
    const decoded = decode(event.data)
    return decoded.ok ? decoded.value : new ModelError.StreamError({
      provider: facts.provider,
      ...(facts.requestId === undefined ? {} : { requestId: facts.requestId }),
      message: `${facts.provider}: malformed ${event.event} event (${decoded.issue}): ${
        safeText(event.data, facts.secrets, 200)
      }`
    })
  }
}

/**
 * The most characters of arguments one tool call may stream: 1 Mi (more than any model's whole output today:
 * 128k output tokens are about 512 Ki characters). Past it the stream fails with a `StreamError` naming the call.
 */
export const maxToolArgumentChars = 1024 * 1024

/**
 * The most characters of arguments all the tool calls of one turn may stream together: 4 Mi. An adapter holds a
 * call's arguments until the call ends (OpenAI's all until the turn ends), so this bounds what a turn can make it
 * hold: about 8 MB.
 */
export const maxTurnToolArgumentChars = 4 * 1024 * 1024

/** The most tool calls one turn may make: 128 (OpenAI's bound on the tools of one request). */
export const maxToolCalls = 128

/**
 * The tool calls open in one response, by the provider's index (a content block's, or a tool call's), each with
 * its arguments' JSON so far: what every adapter turns into `ToolCallStart`, `ToolCallDelta` and `ToolCallEnd`.
 * Bounded: {@link maxToolCalls} calls, {@link maxToolArgumentChars} of arguments a call,
 * {@link maxTurnToolArgumentChars} a turn; past a bound, a `StreamError` naming the call and the bound.
 */
export const toolCalls = (facts: DecoderContext) => {
  const open = new Map<number, { readonly id: string; readonly name: string; json: string }>()
  let started = 0
  let turnChars = 0
  const refused = (call: { readonly id: string; readonly name: string }, why: string) =>
    new ModelError.StreamError({
      provider: facts.provider,
      ...(facts.requestId === undefined ? {} : { requestId: facts.requestId }),
      message: `${facts.provider}: tool call ${call.id} (${call.name}) ${why}; the stream is refused`
    })
  const ended = (
    call: { readonly id: string; readonly name: string; readonly json: string }
  ): Decoded<Chat.StreamChunk> =>
    map(
      toolArguments(facts, call),
      (args) => Chat.StreamChunk.ToolCallEnd({ id: call.id, name: call.name, arguments: args })
    )
  return {
    isOpen: (index: number): boolean => open.has(index),
    start: (index: number, id: string, name: string): Chunks => {
      if (++started > maxToolCalls) {
        return refused({ id, name }, `is call ${started} of the turn, over the bound of ${maxToolCalls} calls a turn`)
      }
      open.set(index, { id, name, json: "" })
      return [Chat.StreamChunk.ToolCallStart({ id, name })]
    },
    /** The next piece of a call's arguments; nothing for an unknown call or an empty piece. */
    delta: (index: number, json: string | null | undefined): Chunks => {
      const call = open.get(index)
      if (call === undefined || !json) return none
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
      return [Chat.StreamChunk.ToolCallDelta({ id: call.id, argumentsDelta: json })]
    },
    /** The call at `index` ends (nothing if none is open); arguments that are not JSON are a `StreamError`. */
    end: (index: number): Chunks => {
      const call = open.get(index)
      if (call === undefined) return none
      open.delete(index)
      return map(ended(call), (chunk) => [chunk])
    },
    /** Every open call ends, in the order they started. */
    endAll: (): Chunks => {
      const calls = [...open.values()]
      open.clear()
      return all(calls.map(ended))
    }
  }
}

// The arguments of a finished tool call: its JSON, `{}` for none, or a `StreamError` naming the call.
const toolArguments = (
  facts: DecoderContext,
  call: { readonly id: string; readonly name: string; readonly json: string }
): Decoded<unknown> => {
  if (call.json.trim() === "") return {}
  try {
    return JSON.parse(call.json)
  } catch {
    return new ModelError.StreamError({
      provider: facts.provider,
      ...(facts.requestId === undefined ? {} : { requestId: facts.requestId }),
      message: `${facts.provider}: the arguments of tool call ${call.id} (${call.name}) are not JSON: ${
        safeText(call.json, facts.secrets, 200)
      }`
    })
  }
}
