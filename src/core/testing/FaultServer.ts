/**
 * A fault-injecting HTTP server on loopback, for testing adapters and retry
 * behaviour over real sockets.
 *
 * It listens on `127.0.0.1` on a free port for the life of a `Scope` and
 * answers each request with the next scripted {@link Reply}: a status with
 * headers and a body, a server-sent-event stream (which may break, stall or
 * carry malformed bytes), a connection reset before any header, or a stall.
 * When the script is empty it asks the `handler` option, and without one it
 * answers 400 so that an unscripted request is a loud, permanent failure.
 *
 * It records every request and every connection, and tests can wait for
 * either without sleeping.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { FaultServer } from "effect-retry-layer/testing/server"
 *
 * const program = Effect.gen(function*() {
 *   const server = yield* FaultServer.make()
 *   yield* server.enqueue(
 *     FaultServer.anthropicError(429, "rate_limit_error", "slow down", { "retry-after": "1" }),
 *     FaultServer.anthropicStream(["Hello", " world"])
 *   )
 *   // point an adapter at server.url ...
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Http from "node:http"
import type * as Net from "node:net"
import { async } from "../../internal/compat.js"
import { type Limits, providerLimits } from "./providerLimits.js"

// Replies ------------------------------------------------------------------

/**
 * One item of a scripted event stream.
 *
 * @category models
 * @since 0.1.0
 */
export type StreamItem =
  | { readonly _tag: "Event"; readonly event?: string; readonly data: string }
  | { readonly _tag: "Raw"; readonly text: string }
  | { readonly _tag: "Bytes"; readonly bytes: Uint8Array }
  | { readonly _tag: "Pause"; readonly millis: number }
  | { readonly _tag: "Reset" }
  | { readonly _tag: "Stall" }

/**
 * What the server does with one request.
 *
 * @category models
 * @since 0.1.0
 */
export type Reply =
  | {
    readonly _tag: "Respond"
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly body: string
    readonly delayMillis: number
  }
  | {
    readonly _tag: "Stream"
    readonly status: number
    readonly headers: Readonly<Record<string, string>>
    readonly items: ReadonlyArray<StreamItem>
    readonly delayMillis: number
  }
  | { readonly _tag: "Reset" }
  | { readonly _tag: "Stall" }

/**
 * @category models
 * @since 0.1.0
 */
export interface ReplyOptions {
  readonly headers?: Readonly<Record<string, string>>
  /** Real milliseconds to wait before the status line, e.g. to model server latency. */
  readonly delayMillis?: number
}

/**
 * A complete response with a text body.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const respond = (status: number, body: string, options: ReplyOptions = {}): Reply => ({
  _tag: "Respond",
  status,
  headers: options.headers ?? {},
  body,
  delayMillis: options.delayMillis ?? 0
})

/**
 * A complete response with a JSON body.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const json = (status: number, body: unknown, options: ReplyOptions = {}): Reply =>
  respond(status, JSON.stringify(body), {
    ...options,
    headers: { "content-type": "application/json", ...options.headers }
  })

/**
 * A `text/event-stream` response that plays `items` in order and then ends.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const stream = (
  items: ReadonlyArray<StreamItem>,
  options: ReplyOptions & { readonly status?: number } = {}
): Reply => ({
  _tag: "Stream",
  status: options.status ?? 200,
  headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", ...options.headers },
  items,
  delayMillis: options.delayMillis ?? 0
})

/**
 * Destroys the connection before sending anything back.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const reset: Reply = { _tag: "Reset" }

/**
 * Never answers (until the client gives up or the server closes).
 *
 * @category fixtures
 * @since 0.1.0
 */
export const stall: Reply = { _tag: "Stall" }

/**
 * A server-sent event; `data` that is not a string is sent as JSON.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const event = (data: unknown, name?: string): StreamItem => ({
  _tag: "Event",
  data: typeof data === "string" ? data : JSON.stringify(data),
  ...(name === undefined ? {} : { event: name })
})

/**
 * Bytes sent as they are, to script malformed streams.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const raw = (text: string): StreamItem => ({ _tag: "Raw", text })

/**
 * A real-time pause between items.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const pause = (millis: number): StreamItem => ({ _tag: "Pause", millis })

/**
 * Resets the connection mid-stream, after the items before it were sent.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const resetStream: StreamItem = { _tag: "Reset" }

/**
 * Stops sending mid-stream but keeps the connection open.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const stallStream: StreamItem = { _tag: "Stall" }

// Provider-shaped replies ----------------------------------------------------

/**
 * @category models
 * @since 0.1.0
 */
export interface StreamShape {
  readonly stopReason?: string
  readonly inputTokens?: number
  readonly outputTokens?: number
  /** Items inserted after the text deltas and before the closing events (an error event, a reset, ...). */
  readonly interrupt?: ReadonlyArray<StreamItem>
  readonly headers?: Readonly<Record<string, string>>
  /** Tool calls after the text, their arguments' JSON streamed in two pieces; the stop reason becomes the tool one. */
  readonly toolCalls?: ReadonlyArray<{ readonly id: string; readonly name: string; readonly input: unknown }>
}

// A tool call's arguments as a provider streams them: the JSON in two pieces.
const halves = (input: unknown): readonly [string, string] => {
  const json = JSON.stringify(input)
  const middle = Math.floor(json.length / 2)
  return [json.slice(0, middle), json.slice(middle)]
}

/**
 * The events of an Anthropic Messages stream that says `pieces`.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const anthropicEvents = (pieces: ReadonlyArray<string>, shape: StreamShape = {}): Array<StreamItem> => [
  event({
    type: "message_start",
    message: {
      id: "msg_fault",
      type: "message",
      role: "assistant",
      model: "claude-fault",
      content: [],
      stop_reason: null,
      usage: { input_tokens: shape.inputTokens ?? 10, output_tokens: 1 }
    }
  }, "message_start"),
  event({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }, "content_block_start"),
  event({ type: "ping" }, "ping"),
  ...pieces.map((text) =>
    event({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text } }, "content_block_delta")
  ),
  ...(shape.interrupt ?? []),
  event({ type: "content_block_stop", index: 0 }, "content_block_stop"),
  ...(shape.toolCalls ?? []).flatMap(({ id, input, name }, i) => [
    event({
      type: "content_block_start",
      index: i + 1,
      content_block: { type: "tool_use", id, name, input: {} }
    }, "content_block_start"),
    ...halves(input).map((partial_json) =>
      event({
        type: "content_block_delta",
        index: i + 1,
        delta: { type: "input_json_delta", partial_json }
      }, "content_block_delta")
    ),
    event({ type: "content_block_stop", index: i + 1 }, "content_block_stop")
  ]),
  event({
    type: "message_delta",
    delta: {
      stop_reason: shape.stopReason ?? (shape.toolCalls?.length ? "tool_use" : "end_turn"),
      stop_sequence: null
    },
    usage: { output_tokens: shape.outputTokens ?? pieces.length }
  }, "message_delta"),
  event({ type: "message_stop" }, "message_stop")
]

/**
 * A complete Anthropic Messages stream that says `pieces`.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const anthropicStream = (pieces: ReadonlyArray<string>, shape: StreamShape = {}): Reply =>
  stream(anthropicEvents(pieces, shape), shape.headers === undefined ? {} : { headers: shape.headers })

/**
 * A complete (not streamed) Anthropic Messages answer that says `pieces`, as
 * `generateText` receives it.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const anthropicMessage = (pieces: ReadonlyArray<string>, shape: StreamShape = {}): Reply =>
  json(200, {
    id: "msg_fault",
    type: "message",
    role: "assistant",
    model: "claude-fault",
    content: [
      { type: "text", text: pieces.join("") },
      ...(shape.toolCalls ?? []).map(({ id, input, name }) => ({ type: "tool_use", id, name, input }))
    ],
    stop_reason: shape.stopReason ?? (shape.toolCalls?.length ? "tool_use" : "end_turn"),
    stop_sequence: null,
    usage: { input_tokens: shape.inputTokens ?? 10, output_tokens: shape.outputTokens ?? pieces.length }
  }, { headers: shape.headers ?? {} })

/**
 * An Anthropic error event (`event: error`), as sent mid-stream.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const anthropicErrorEvent = (type: string, message: string): StreamItem =>
  event({ type: "error", error: { type, message } }, "error")

/**
 * An Anthropic error response.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const anthropicError = (
  status: number,
  type: string,
  message: string,
  headers: Readonly<Record<string, string>> = {}
): Reply => json(status, { type: "error", error: { type, message } }, { headers })

/**
 * The events of an OpenAI Chat Completions stream that says `pieces`,
 * with the usage chunk that `stream_options.include_usage` asks for.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const openAiEvents = (pieces: ReadonlyArray<string>, shape: StreamShape = {}): Array<StreamItem> => {
  const chunk = (choices: ReadonlyArray<unknown>, usage: unknown = null) =>
    event({
      id: "chatcmpl-fault",
      object: "chat.completion.chunk",
      created: 0,
      model: "gpt-fault",
      choices,
      usage
    })
  return [
    chunk([{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }]),
    ...pieces.map((content) => chunk([{ index: 0, delta: { content }, finish_reason: null }])),
    ...(shape.interrupt ?? []),
    ...(shape.toolCalls ?? []).flatMap(({ id, input, name }, index) => {
      const [first, second] = halves(input)
      return [
        chunk([{
          index: 0,
          delta: { tool_calls: [{ index, id, type: "function", function: { name, arguments: first } }] },
          finish_reason: null
        }]),
        chunk([{ index: 0, delta: { tool_calls: [{ index, function: { arguments: second } }] }, finish_reason: null }])
      ]
    }),
    chunk([{
      index: 0,
      delta: {},
      finish_reason: shape.stopReason ?? (shape.toolCalls?.length ? "tool_calls" : "stop")
    }]),
    chunk([], {
      prompt_tokens: shape.inputTokens ?? 10,
      completion_tokens: shape.outputTokens ?? pieces.length,
      total_tokens: (shape.inputTokens ?? 10) + (shape.outputTokens ?? pieces.length)
    }),
    event("[DONE]")
  ]
}

/**
 * A complete OpenAI Chat Completions stream that says `pieces`.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const openAiStream = (pieces: ReadonlyArray<string>, shape: StreamShape = {}): Reply =>
  stream(openAiEvents(pieces, shape), shape.headers === undefined ? {} : { headers: shape.headers })

/**
 * An OpenAI error object as a stream event.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const openAiErrorEvent = (type: string, message: string): StreamItem =>
  event({ error: { message, type, param: null, code: null } })

/**
 * The events of an OpenAI Responses API stream (`POST /v1/responses`, what
 * `@effect/ai-openai` calls) that says `pieces` in one message item, then
 * makes the shape's function calls, then `response.completed` with usage.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const openAiResponsesEvents = (pieces: ReadonlyArray<string>, shape: StreamShape = {}): Array<StreamItem> => {
  let sequence = 0
  const send = (type: string, fields: Record<string, unknown>) =>
    event({ type, sequence_number: sequence++, ...fields }, type)
  const text = pieces.join("")
  const { calls, message, outputText, response } = responsesApi(pieces, shape)
  const incomplete = shape.stopReason === "max_tokens"
  return [
    send("response.created", { response: response("in_progress", false) }),
    send("response.in_progress", { response: response("in_progress", false) }),
    send("response.output_item.added", { output_index: 0, item: message("in_progress", []) }),
    send("response.content_part.added", {
      item_id: "msg_fault",
      output_index: 0,
      content_index: 0,
      part: outputText("")
    }),
    ...pieces.map((delta) =>
      send("response.output_text.delta", { item_id: "msg_fault", output_index: 0, content_index: 0, delta })
    ),
    ...(shape.interrupt ?? []),
    send("response.output_text.done", { item_id: "msg_fault", output_index: 0, content_index: 0, text }),
    send("response.content_part.done", {
      item_id: "msg_fault",
      output_index: 0,
      content_index: 0,
      part: outputText(text)
    }),
    send("response.output_item.done", { output_index: 0, item: message("completed", [outputText(text)]) }),
    ...calls.flatMap((call, i) => [
      send("response.output_item.added", {
        output_index: i + 1,
        item: { ...call, arguments: "", status: "in_progress" }
      }),
      ...halves(JSON.parse(call.arguments)).map((delta) =>
        send("response.function_call_arguments.delta", { item_id: call.id, output_index: i + 1, delta })
      ),
      send("response.function_call_arguments.done", {
        item_id: call.id,
        output_index: i + 1,
        arguments: call.arguments
      }),
      send("response.output_item.done", { output_index: i + 1, item: call })
    ]),
    send(incomplete ? "response.incomplete" : "response.completed", {
      response: response(incomplete ? "incomplete" : "completed", true)
    })
  ]
}

/**
 * A complete (not streamed) OpenAI Responses API answer that says `pieces`,
 * as `generateText` receives it.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const openAiResponse = (pieces: ReadonlyArray<string>, shape: StreamShape = {}): Reply =>
  json(
    200,
    responsesApi(pieces, shape).response(shape.stopReason === "max_tokens" ? "incomplete" : "completed", true),
    {
      headers: shape.headers ?? {}
    }
  )

// The Responses API's objects, shared by the stream and the complete answer.
const responsesApi = (pieces: ReadonlyArray<string>, shape: StreamShape) => {
  const message = (status: string, content: ReadonlyArray<unknown>) => ({
    id: "msg_fault",
    type: "message",
    status,
    role: "assistant",
    content
  })
  const outputText = (value: string) => ({ type: "output_text", text: value, annotations: [] })
  const calls = (shape.toolCalls ?? []).map(({ id, input, name }) => ({
    id: `fc_${id}`,
    type: "function_call",
    call_id: id,
    name,
    arguments: JSON.stringify(input),
    status: "completed"
  }))
  const inputTokens = shape.inputTokens ?? 10
  const outputTokens = shape.outputTokens ?? pieces.length
  const response = (status: string, done: boolean) => ({
    id: "resp_fault",
    object: "response",
    created_at: 1_700_000_000,
    status,
    model: "gpt-fault",
    output: done ? [message("completed", [outputText(pieces.join(""))]), ...calls] : [],
    parallel_tool_calls: true,
    tool_choice: "auto",
    tools: [],
    error: null,
    incomplete_details: status === "incomplete" ? { reason: "max_output_tokens" } : null,
    instructions: null,
    metadata: {},
    temperature: 1,
    top_p: 1,
    usage: done
      ? {
        input_tokens: inputTokens,
        input_tokens_details: { cached_tokens: 0 },
        output_tokens: outputTokens,
        output_tokens_details: { reasoning_tokens: 0 },
        total_tokens: inputTokens + outputTokens
      }
      : null
  })
  return { calls, message, outputText, response }
}

/**
 * A complete OpenAI Responses API stream that says `pieces`.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const openAiResponsesStream = (pieces: ReadonlyArray<string>, shape: StreamShape = {}): Reply =>
  stream(openAiResponsesEvents(pieces, shape), shape.headers === undefined ? {} : { headers: shape.headers })

/**
 * A Responses API `error` event, as sent in a stream that opened with 200.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const openAiResponsesErrorEvent = (code: string, message: string): StreamItem =>
  event({ type: "error", code, message, param: null, sequence_number: 0 }, "error")

/**
 * Bytes written as they are: a binary frame, or part of one.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const bytes = (value: Uint8Array): StreamItem => ({ _tag: "Bytes", bytes: value })

/**
 * One AWS event-stream message (prelude, string headers, payload, CRC32s),
 * encoded here independently of the decoder the Bedrock adapter uses.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const eventStreamMessage = (headers: Readonly<Record<string, string>>, payload: unknown): Uint8Array => {
  const encoder = new TextEncoder()
  const headerBytes = Object.entries(headers).map(([name, value]) => {
    const n = encoder.encode(name)
    const v = encoder.encode(value)
    const out = new Uint8Array(1 + n.length + 1 + 2 + v.length)
    out[0] = n.length
    out.set(n, 1)
    out[1 + n.length] = 7 // string
    new DataView(out.buffer).setUint16(2 + n.length, v.length, false)
    out.set(v, 4 + n.length)
    return out
  })
  const headersLength = headerBytes.reduce((sum, h) => sum + h.length, 0)
  const body = encoder.encode(typeof payload === "string" ? payload : JSON.stringify(payload))
  const total = 12 + headersLength + body.length + 4
  const out = new Uint8Array(total)
  const view = new DataView(out.buffer)
  view.setUint32(0, total, false)
  view.setUint32(4, headersLength, false)
  view.setUint32(8, crc32(out.subarray(0, 8)), false)
  let offset = 12
  for (const h of headerBytes) {
    out.set(h, offset)
    offset += h.length
  }
  out.set(body, offset)
  view.setUint32(total - 4, crc32(out.subarray(0, total - 4)), false)
  return out
}

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

const crc32 = (data: Uint8Array): number => {
  let c = 0xffffffff
  for (const byte of data) c = crcTable[(c ^ byte) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

/**
 * A Bedrock `ConverseStream` event.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const bedrockEvent = (type: string, payload: unknown): Uint8Array =>
  eventStreamMessage({ ":event-type": type, ":content-type": "application/json", ":message-type": "event" }, payload)

/**
 * A Bedrock exception inside the stream, e.g. `modelStreamErrorException`.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const bedrockException = (type: string, message: string): StreamItem =>
  bytes(eventStreamMessage(
    { ":exception-type": type, ":content-type": "application/json", ":message-type": "exception" },
    { message }
  ))

/**
 * The events of a Bedrock `ConverseStream` that says `pieces` (and makes the
 * shape's tool calls), one binary message per item.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const bedrockEvents = (pieces: ReadonlyArray<string>, shape: StreamShape = {}): Array<StreamItem> => [
  bytes(bedrockEvent("messageStart", { role: "assistant" })),
  ...pieces.map((text) => bytes(bedrockEvent("contentBlockDelta", { contentBlockIndex: 0, delta: { text } }))),
  ...(shape.interrupt ?? []),
  bytes(bedrockEvent("contentBlockStop", { contentBlockIndex: 0 })),
  ...(shape.toolCalls ?? []).flatMap(({ id, input, name }, i) => [
    bytes(bedrockEvent("contentBlockStart", { contentBlockIndex: i + 1, start: { toolUse: { toolUseId: id, name } } })),
    ...halves(input).map((part) =>
      bytes(bedrockEvent("contentBlockDelta", { contentBlockIndex: i + 1, delta: { toolUse: { input: part } } }))
    ),
    bytes(bedrockEvent("contentBlockStop", { contentBlockIndex: i + 1 }))
  ]),
  bytes(
    bedrockEvent("messageStop", { stopReason: shape.stopReason ?? (shape.toolCalls?.length ? "tool_use" : "end_turn") })
  ),
  bytes(bedrockEvent("metadata", {
    usage: {
      inputTokens: shape.inputTokens ?? 10,
      outputTokens: shape.outputTokens ?? pieces.length,
      totalTokens: (shape.inputTokens ?? 10) + (shape.outputTokens ?? pieces.length)
    },
    metrics: { latencyMs: 1 }
  }))
]

/**
 * A complete Bedrock `ConverseStream` response.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const bedrockStream = (pieces: ReadonlyArray<string>, shape: StreamShape = {}): Reply =>
  stream(bedrockEvents(pieces, shape), {
    headers: { "content-type": "application/vnd.amazon.eventstream", ...shape.headers }
  })

/**
 * A Bedrock error response: the code in `x-amzn-errortype`, the message in
 * the body.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const bedrockError = (
  status: number,
  type: string,
  message: string,
  headers: Readonly<Record<string, string>> = {}
): Reply =>
  json(status, { message }, {
    headers: { "x-amzn-errortype": `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, ...headers }
  })

/**
 * An OpenAI error response.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const openAiError = (
  status: number,
  type: string,
  message: string,
  headers: Readonly<Record<string, string>> = {},
  code: string | null = null
): Reply => json(status, { error: { message, type, param: null, code } }, { headers })

// The server -----------------------------------------------------------------

/**
 * A request the server received.
 *
 * @category models
 * @since 0.1.0
 */
export interface RecordedRequest {
  readonly method: string
  /** Path and query, e.g. `/v1/messages`. */
  readonly url: string
  readonly headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
  readonly body: string
  /** The body parsed as JSON, or `undefined` if it is not JSON. */
  readonly json: unknown
  /** Wall-clock milliseconds at which the request had arrived whole (the server runs in real time). */
  readonly receivedAt: number
}

/**
 * Connections the server has accepted, and how many have closed.
 *
 * @category models
 * @since 0.1.0
 */
export interface Connections {
  readonly opened: number
  readonly closed: number
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Server {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** Appends replies to the script; each request takes the first. */
  readonly enqueue: (...replies: ReadonlyArray<Reply>) => Effect.Effect<void>
  readonly requests: Effect.Effect<ReadonlyArray<RecordedRequest>>
  /** Completes once at least `count` requests have arrived. */
  readonly awaitRequests: (count: number) => Effect.Effect<void>
  readonly connections: Effect.Effect<Connections>
  /** Completes once at least `count` connections have closed. */
  readonly awaitClosed: (count: number) => Effect.Effect<void>
  /** Requests whose response has not finished yet. */
  readonly inFlight: Effect.Effect<number>
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** Answers requests the script does not cover; its index counts every request from 0. */
  readonly handler?: (request: RecordedRequest, index: number) => Reply
}

const unscripted = (index: number): Reply =>
  json(400, {
    type: "error",
    error: { type: "fault_server_unscripted", message: `FaultServer: no reply scripted for request #${index + 1}` }
  })

/**
 * Starts a server for the life of the scope.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<Server, never, Scope.Scope> =>
  Effect.gen(function*() {
    const script: Array<Reply> = []
    const requests: Array<RecordedRequest> = []
    const connections = { opened: 0, closed: 0 }
    let inFlight = 0
    const waiters = new Set<() => void>()
    const notify = () => waiters.forEach((waiter) => waiter())
    const waitUntil = (condition: () => boolean) =>
      async<void>((resume) => {
        if (condition()) return resume(Effect.void)
        const waiter = () => {
          if (condition()) {
            waiters.delete(waiter)
            resume(Effect.void)
          }
        }
        waiters.add(waiter)
        return Effect.sync(() => waiters.delete(waiter))
      })

    const server = Http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8")
        const recorded: RecordedRequest = {
          method: req.method ?? "GET",
          url: req.url ?? "/",
          headers: { ...req.headers },
          body,
          json: parseJson(body),
          receivedAt: Date.now()
        }
        const index = requests.length
        requests.push(recorded)
        const reply = script.shift() ?? options.handler?.(recorded, index) ?? unscripted(index)
        inFlight++
        res.on("close", () => {
          inFlight--
          notify()
        })
        notify()
        play(reply, index, req.socket, res)
      })
    })
    server.on("connection", (socket) => {
      connections.opened++
      socket.on("close", () => {
        connections.closed++
        notify()
      })
    })

    const url = yield* Effect.acquireRelease(
      async<string>((resume) => {
        server.listen(0, "127.0.0.1", () => {
          const address = server.address() as Net.AddressInfo
          resume(Effect.succeed(`http://127.0.0.1:${address.port}`))
        })
      }),
      () =>
        async<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )

    return {
      url,
      enqueue: (...replies) => Effect.sync(() => void script.push(...replies)),
      requests: Effect.sync(() => [...requests]),
      awaitRequests: (count) => waitUntil(() => requests.length >= count),
      connections: Effect.sync(() => ({ ...connections })),
      awaitClosed: (count) => waitUntil(() => connections.closed >= count),
      inFlight: Effect.sync(() => inFlight)
    }
  })

const parseJson = (body: string): unknown => {
  try {
    return JSON.parse(body)
  } catch {
    return undefined
  }
}

// A TCP reset where Node supports it (the client sees ECONNRESET), a plain destroy otherwise.
const destroy = (socket: Net.Socket) => {
  if (typeof socket.resetAndDestroy === "function") socket.resetAndDestroy()
  else socket.destroy()
}

const play = (reply: Reply, index: number, socket: Net.Socket, res: Http.ServerResponse): void => {
  switch (reply._tag) {
    case "Reset":
      return destroy(socket)
    case "Stall":
      return
    case "Respond":
    case "Stream":
      return void setTimeout(() => {
        if (res.destroyed) return
        res.writeHead(reply.status, { "request-id": `req_fault_${index + 1}`, ...reply.headers })
        if (reply._tag === "Respond") res.end(reply.body)
        else writeItems(reply.items, socket, res)
      }, reply.delayMillis)
  }
}

// Items are written one at a time, each after the previous has been flushed, so that a
// reset or a stall lands after exactly the items before it.
const writeItems = (items: ReadonlyArray<StreamItem>, socket: Net.Socket, res: Http.ServerResponse): void => {
  const [item, ...rest] = items
  if (res.destroyed) return
  if (item === undefined) return void res.end()
  const next = () => writeItems(rest, socket, res)
  switch (item._tag) {
    case "Event":
      return void res.write(eventText(item), next)
    case "Raw":
      return void res.write(item.text, next)
    case "Bytes":
      return void res.write(item.bytes, next)
    case "Pause":
      return void setTimeout(next, item.millis)
    case "Reset":
      return destroy(socket)
    case "Stall":
      return
  }
}

/** A server-sent event as it goes on the wire. */
const eventText = (item: { readonly event?: string; readonly data: string }): string =>
  `${item.event ? `event: ${item.event}\n` : ""}${item.data.split("\n").map((line) => `data: ${line}\n`).join("")}\n`

/**
 * A reply's body as the server would write it, whole: for a simulated server that answers without sockets (the
 * Effect 4 fleet bench's). A stream's pauses, resets and stalls are not bodies: they are refused.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const bodyOf = (reply: Reply): string => {
  if (reply._tag === "Respond") return reply.body
  if (reply._tag !== "Stream") throw new Error(`bodyOf: a ${reply._tag} has no body`)
  return reply.items.map((item) => {
    switch (item._tag) {
      case "Event":
        return eventText(item)
      case "Raw":
        return item.text
      default:
        throw new Error(`bodyOf: a stream item ${item._tag} has no text`)
    }
  }).join("")
}

/**
 * A loopback provider's replies under `limits` (a `FaultServer` `handler`): a request that fits is answered with a
 * stream in `format` that used 20 output tokens (the rest of `maxTokens` goes back at once, as the provider
 * settles at the end), after 20 ms, with the limits' headers; one that does not is a 429 with those headers and
 * `retry-after`. `counts` says what it admitted and refused, and how many requests came without a JSON body.
 *
 * @category fixtures
 * @since 0.1.0
 */
export const limitedReplies = (
  limits: Limits,
  format: "anthropic" | "openai" | "openai-responses",
  maxTokens: number
) => {
  const limited = providerLimits(limits)
  // `withoutBody` is counted, not asserted: an assertion in the server's handler fails outside the test's fiber
  const counts = { accepted: 0, refused: 0, withoutBody: 0 }
  const handler = (request: RecordedRequest): Reply => {
    const now = Date.now()
    // the headers as of the admission, this request counted
    const wait = limited.admit(now, { requests: 1, outputTokens: maxTokens })
    const headers = limited.headers(now, format === "anthropic" ? "anthropic" : "openai")
    if (wait > 0) {
      counts.refused++
      const retryAfter = { ...headers, "retry-after": String(Math.ceil(wait / 1000)) }
      return format === "anthropic"
        ? anthropicError(429, "rate_limit_error", "over a limit", retryAfter)
        : openAiError(429, "requests", "Rate limit reached", retryAfter, "rate_limit_exceeded")
    }
    counts.accepted++
    limited.settle(now, { outputTokens: maxTokens - 20 })
    if (request.json === undefined) counts.withoutBody++
    const shape = { headers, outputTokens: 20 }
    const reply = format === "anthropic"
      ? anthropicStream(["ok"], shape)
      : format === "openai"
      ? openAiStream(["ok"], shape)
      : openAiResponsesStream(["ok"], shape)
    return { ...reply, delayMillis: 20 } as Reply
  }
  return { handler, counts }
}
