/**
 * Bedrock's `ConverseStream`, without Effect: the request (signed with SigV4), and its events as chunks.
 */
import { Sha256 } from "@aws-crypto/sha256-js"
import { SignatureV4 } from "@smithy/signature-v4"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { DurationInput } from "../../internal/compat.js"
import { decodeJson } from "../../internal/compatWire.js"
import * as Chat from "../Chat.js"
import * as HttpClassification from "../HttpClassification.js"
import * as ModelError from "../ModelError.js"
import * as ErrorTypes from "./errorTypes.js"
import * as EventStream from "./eventStream.js"
import { defaultMaxTokens } from "./tokens.js"
import * as Wire from "./wire.js"

/**
 * AWS credentials, each a `Redacted`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Credentials {
  readonly accessKeyId: Redacted.Redacted
  readonly secretAccessKey: Redacted.Redacted
  /** For temporary credentials (an assumed role, SSO). */
  readonly sessionToken?: Redacted.Redacted
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** e.g. `"us-east-1"` */
  readonly region: string
  /** A model or inference profile id, e.g. `"anthropic.claude-3-5-sonnet-20240620-v1:0"`. */
  readonly model: string
  readonly credentials: Credentials
  /** Default `https://bedrock-runtime.<region>.amazonaws.com`; point it at a VPC endpoint or a test server. */
  readonly baseUrl?: string
  /** Used when a request sets no `maxTokens`. Default 4096. */
  readonly maxTokens?: number
  /** Limit on sending a request and receiving its status. Default 10 minutes. */
  readonly timeout?: DurationInput
  /** Limit on the wait for each piece of an open stream. Default 5 minutes. */
  readonly idleTimeout?: DurationInput
  /**
   * Limit on the time an open stream goes without content (text, thinking, a tool call, the turn's end):
   * comments and pings keep a connection open but do not count. Default 10 minutes.
   */
  readonly contentTimeout?: DurationInput
}

const provider = "bedrock"

/** The adapter; throws `InvalidOptions` for a base URL that is not absolute http(s), or a key not `Redacted`. */
export const adapter = (options: Options): Wire.Adapter => {
  const base = Wire.baseUrl("Bedrock", options.baseUrl ?? `https://bedrock-runtime.${options.region}.amazonaws.com`)
  // The model id goes in the path encoded (`:` as `%3A`); SigV4 signs that path encoded once more, as the SDK does.
  const url = new URL(`model/${encodeURIComponent(options.model)}/converse-stream`, base)
  const given = options.credentials
  const credentials = {
    accessKeyId: Wire.credential("Bedrock", "credentials.accessKeyId", given?.accessKeyId),
    secretAccessKey: Wire.credential("Bedrock", "credentials.secretAccessKey", given?.secretAccessKey),
    ...(given?.sessionToken === undefined
      ? {}
      : { sessionToken: Wire.credential("Bedrock", "credentials.sessionToken", given.sessionToken) })
  }
  const signer = new SignatureV4({
    service: "bedrock",
    region: options.region,
    sha256: Sha256,
    credentials: () =>
      Promise.resolve({
        accessKeyId: Redacted.value(credentials.accessKeyId),
        secretAccessKey: Redacted.value(credentials.secretAccessKey),
        ...(credentials.sessionToken === undefined ? {} : { sessionToken: Redacted.value(credentials.sessionToken) })
      })
  })
  const maxTokens = options.maxTokens ?? defaultMaxTokens
  return {
    provider,
    model: options.model,
    errorTypes: ErrorTypes.bedrock,
    wire: { contentType: "application/vnd.amazon.eventstream", frames: EventStream.messages },
    secretHeaders: ["x-amz-security-token"],
    secrets: [
      credentials.accessKeyId,
      credentials.secretAccessKey,
      ...(credentials.sessionToken === undefined ? [] : [credentials.sessionToken])
    ],
    request: (request) =>
      Wire.map(converse(request, maxTokens), (body) => ({
        url,
        headers: { "content-type": "application/json", accept: "application/vnd.amazon.eventstream" },
        body
      })),
    sign: async (call) => {
      const signed = await signer.sign({
        method: "POST",
        protocol: call.url.protocol,
        hostname: call.url.hostname,
        ...(call.url.port === "" ? {} : { port: Number(call.url.port) }),
        path: call.url.pathname,
        query: {},
        headers: { host: call.url.host, ...call.headers },
        body: call.body
      })
      // The client sets `host` from the URL itself (the same value that was signed).
      const { host: _host, ...headers } = signed.headers
      return { ...call, headers }
    },
    decoder
  }
}

// Requests -------------------------------------------------------------------

const imageFormats: Readonly<Record<string, string>> = {
  "image/png": "png",
  "image/jpeg": "jpeg",
  "image/gif": "gif",
  "image/webp": "webp"
}

const unsupported = (what: string) => Wire.unsupported(provider, what)

// The Converse API's body; what it cannot take is refused before anything is signed or sent.
const converse = (
  request: Chat.ChatRequest,
  maxTokens: number
): Wire.Decoded<string> => {
  if (request.toolChoice === "none") return unsupported("toolChoice \"none\" (omit the tools instead)")
  const image = (block: Chat.ImageBlock) => {
    const format = imageFormats[block.mediaType]
    return format === undefined
      ? unsupported(`an image of type ${block.mediaType}`)
      : { image: { format, source: { bytes: block.data } } }
  }
  const content = (block: Chat.ContentBlock): Wire.Decoded<unknown> => {
    switch (block.type) {
      case "text":
        return ({ text: block.text })
      case "image":
        return image(block)
      case "tool_use":
        return ({ toolUse: { toolUseId: block.id, name: block.name, input: block.input ?? {} } })
      case "tool_result":
        return Wire.map(
          typeof block.content === "string"
            ? [{ text: block.content }]
            : Wire.all(
              block.content.map((part) => part.type === "text" ? ({ text: part.text }) : image(part))
            ),
          (parts) => ({
            toolResult: { toolUseId: block.toolUseId, content: parts, status: block.isError ? "error" : "success" }
          })
        )
      case "thinking":
        return ({
          reasoningContent: { reasoningText: { text: block.thinking, signature: block.signature } }
        })
      case "redacted_thinking":
        return ({ reasoningContent: { redactedContent: block.data } })
    }
  }
  return Wire.map(
    Wire.all(request.messages.map((message) =>
      Wire.map(
        typeof message.content === "string"
          ? [{ text: message.content }]
          : Wire.all(message.content.map(content)),
        (blocks) => ({ role: message.role, content: blocks })
      )
    )),
    (messages) =>
      JSON.stringify({
        messages,
        ...(request.system === undefined ? {} : { system: [{ text: request.system }] }),
        inferenceConfig: {
          maxTokens: request.maxTokens ?? maxTokens,
          ...(request.temperature === undefined ? {} : { temperature: request.temperature }),
          ...(request.stopSequences === undefined ? {} : { stopSequences: request.stopSequences })
        },
        ...(request.tools === undefined ? {} : {
          toolConfig: {
            tools: request.tools.map((tool) => ({
              toolSpec: {
                name: tool.name,
                ...(tool.description === undefined ? {} : { description: tool.description }),
                inputSchema: { json: tool.inputSchema }
              }
            })),
            ...(request.toolChoice === undefined ? {} : {
              toolChoice: typeof request.toolChoice === "string"
                ? { [request.toolChoice]: {} }
                : { tool: { name: request.toolChoice.tool } }
            })
          }
        })
      })
  )
}

// Events ---------------------------------------------------------------------

const stopReasons: Readonly<Record<string, Chat.FinishReason>> = {
  end_turn: "stop",
  tool_use: "tool_use",
  max_tokens: "max_tokens",
  stop_sequence: "stop_sequence",
  guardrail_intervened: "content_filter",
  content_filtered: "content_filter"
}

const BlockStart = Wire.decodeEvent(Schema.Struct({
  contentBlockIndex: Schema.Number,
  start: Schema.optional(Schema.Struct({
    toolUse: Schema.optional(Schema.Struct({ toolUseId: Schema.String, name: Schema.String }))
  }))
}))

const BlockDelta = Wire.decodeEvent(Schema.Struct({
  contentBlockIndex: Schema.Number,
  delta: Schema.Struct({
    text: Schema.optional(Schema.String),
    toolUse: Schema.optional(Schema.Struct({ input: Schema.String })),
    reasoningContent: Schema.optional(Schema.Struct({
      text: Schema.optional(Schema.String),
      signature: Schema.optional(Schema.String),
      redactedContent: Schema.optional(Schema.String)
    }))
  })
}))

const BlockStop = Wire.decodeEvent(Schema.Struct({ contentBlockIndex: Schema.Number }))

const MessageStop = Wire.decodeEvent(Schema.Struct({ stopReason: Schema.String }))

const Metadata = Wire.decodeEvent(Schema.Struct({
  usage: Schema.Struct({
    inputTokens: Schema.Number,
    outputTokens: Schema.Number,
    cacheReadInputTokens: Schema.optional(Schema.Number),
    cacheWriteInputTokens: Schema.optional(Schema.Number)
  })
}))

const ExceptionBody = decodeJson(Schema.Struct({ message: Schema.optional(Schema.String) }))

const decoder = (context: Wire.DecoderContext): Wire.Decoder => {
  let stopReason: string | undefined
  const calls = Wire.toolCalls(context)
  return (event) => {
    if (event.event.startsWith("exception:")) {
      // Exception types arrive in lower camel case (`modelStreamErrorException`); the table has them capitalised.
      const raw = event.event.slice("exception:".length)
      const errorType = raw.charAt(0).toUpperCase() + raw.slice(1)
      const body = ExceptionBody(event.data)
      const said = body.ok ? body.value.message : undefined
      return ModelError.make(ErrorTypes.bedrock[errorType] ?? "StreamError", {
        provider,
        ...(context.requestId === undefined ? {} : { requestId: context.requestId }),
        errorType,
        message: `bedrock sent ${errorType} mid-stream: ${
          said === undefined
            ? HttpClassification.safeText(event.data, context.secrets, 200)
            : HttpClassification.safeText(said, context.secrets)
        }`
      })
    }
    switch (event.event) {
      case "contentBlockStart":
        return Wire.flatMap(BlockStart(context, event), ({ contentBlockIndex: index, start }) => {
          const tool = start?.toolUse
          return tool === undefined ? Wire.none : calls.start(index, tool.toolUseId, tool.name)
        })
      case "contentBlockDelta":
        return Wire.flatMap(BlockDelta(context, event), ({ contentBlockIndex: index, delta }) => {
          const out: Array<Chat.StreamChunk> = []
          if (delta.text) out.push(Chat.StreamChunk.TextDelta({ text: delta.text }))
          const args = calls.delta(index, delta.toolUse?.input)
          if (Wire.isFailure(args)) return args
          out.push(...args)
          const reasoning = delta.reasoningContent
          if (reasoning?.text) out.push(Chat.StreamChunk.ThinkingDelta({ thinking: reasoning.text }))
          if (reasoning?.signature) {
            out.push(Chat.StreamChunk.ThinkingSignature({ signature: reasoning.signature }))
          }
          if (reasoning?.redactedContent) {
            out.push(Chat.StreamChunk.RedactedThinking({ data: reasoning.redactedContent }))
          }
          return out
        })
      case "contentBlockStop":
        return Wire.flatMap(BlockStop(context, event), ({ contentBlockIndex: index }) => calls.end(index))
      case "messageStop":
        return Wire.map(MessageStop(context, event), (stop) => {
          stopReason = stop.stopReason
          return Wire.none
        })
      case "metadata":
        // The last event: the usage, after messageStop.
        return Wire.map(Metadata(context, event), ({ usage }) => [
          Chat.StreamChunk.TurnFinished({
            reason: (stopReason && stopReasons[stopReason]) || "unknown",
            usage: {
              inputTokens: usage.inputTokens,
              outputTokens: usage.outputTokens,
              ...(usage.cacheReadInputTokens === undefined ? {} : { cacheReadTokens: usage.cacheReadInputTokens }),
              ...(usage.cacheWriteInputTokens === undefined ? {} : { cacheWriteTokens: usage.cacheWriteInputTokens })
            },
            ...(stopReason === undefined ? {} : { stopReason })
          })
        ])
      default:
        // messageStart and event types added after this was written
        return Wire.none
    }
  }
}
