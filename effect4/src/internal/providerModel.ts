import * as AiError from "effect/ai/AiError"
import * as LanguageModel from "effect/ai/LanguageModel"
import type * as Prompt from "effect/ai/Prompt"
import type * as Response from "effect/ai/Response"
import * as Tool from "effect/ai/Tool"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Chat from "../core/Chat.js"
import * as FleetStore from "../core/FleetStore.js"
import { firstItem } from "../core/internal/commit.js"
import type { InvalidOptions } from "../core/internal/invalidOptions.js"
import { catching } from "../core/internal/invalidOptions.js"
import * as Stack from "../core/internal/stack.js"
import * as Wire from "../core/internal/wire.js"
import type * as ModelError from "../core/ModelError.js"
import * as Policy from "../core/Policy.js"
import type { InvalidRetryPolicy } from "../core/RetryPolicy.js"
import * as RetryAcquisition from "../RetryAcquisition.js"
import type * as RetrySchedule from "../RetrySchedule.js"
import { readToCommit } from "./commit.js"
import * as HttpModel from "./httpModel.js"

/**
 * What every provider's `LanguageModel` takes besides its adapter's options.
 *
 * @since 1.0.0
 */
export interface Options extends Omit<Stack.Options, "retry" | "secrets"> {
  /**
   * The retry of each call's acquisition (the request, the status, and a stream up to its first chunk), on this
   * provider's own errors (`ModelError`: the server's `Retry-After` a floor, 529 overloaded, a 200 whose first
   * event is an error). Default `RetrySchedule.defaults`; `false` for none, and none of the fleet stack either
   * (to decorate the model yourself).
   *
   * The fleet stack, on by default (`budget`, `breaker`, `limiter`: each part's options, or `false` to turn it
   * off): every retry admitted by the retry budget, every attempt through the circuit breaker and then the
   * adaptive rate limiter, paced by the provider's rate-limit headers and each request's size, on the
   * `FleetStore` in context (`FleetStore.layerMemory` for one process, `FleetStoreRedis.layer` for a fleet), or
   * on a memory store of the layer's own when none is provided.
   */
  readonly retry?: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input | false | undefined
  /** Used when a prompt sets none. Anthropic and Bedrock need one; default 4096 there. */
  readonly maxTokens?: number
  /** The sampling temperature, for every call. */
  readonly temperature?: number
}

/** Where a reasoning part keeps what a provider wants back with it (a signature, redacted data). */
const metadataKey = "effect-retry-layer"

/**
 * An `effect/ai` `LanguageModel` over an adapter: the prompt as a chat request, the chunks as response parts,
 * each call's acquisition retried on the adapter's own errors, and what still fails an `AiError`.
 *
 * @internal
 */
export const make = (
  module: string,
  build: () => Wire.Adapter,
  options: Options & HttpModel.Limits
): Effect.Effect<
  LanguageModel.LanguageModel,
  InvalidOptions | InvalidRetryPolicy,
  HttpClient.HttpClient | Scope.Scope
> => Effect.map(withPolicies(module, build, options), ({ model }) => model)

/**
 * A provider's layer: its `LanguageModel`, and the fleet stack's policies it applies (for a dashboard; each one
 * `undefined` where turned off).
 *
 * @internal
 */
export const layer = (
  module: string,
  build: () => Wire.Adapter,
  options: Options & HttpModel.Limits
): Layer.Layer<
  LanguageModel.LanguageModel | Stack.Policies,
  InvalidOptions | InvalidRetryPolicy,
  HttpClient.HttpClient
> =>
  Layer.effectContext(Effect.map(
    withPolicies(module, build, options),
    ({ model, policies }) =>
      Context.make(LanguageModel.LanguageModel, model).pipe(Context.add(Stack.Policies, policies))
  ))

const withPolicies = (
  module: string,
  build: () => Wire.Adapter,
  options: Options & HttpModel.Limits
) =>
  Effect.gen(function*() {
    const { adapter, retry, stack } = yield* catching<
      {
        readonly adapter: Wire.Adapter
        readonly retry: RetrySchedule.RetryPolicy | undefined
        readonly stack: Stack.Parts
      },
      never,
      never,
      InvalidOptions | InvalidRetryPolicy
    >(() => {
      const adapter = build()
      const stack = options.retry === false
        ? { budget: undefined, breaker: undefined, limiter: undefined }
        : Stack.parts(keyedBy(`${adapter.provider}/${adapter.model}`, options))
      return Effect.succeed({
        adapter,
        retry: options.retry === false ? undefined : Stack.retryPolicy(options.retry, stack.limiter !== undefined),
        stack
      })
    })
    const client = yield* HttpClient.HttpClient
    const store = Option.getOrElse(yield* Effect.serviceOption(FleetStore.FleetStore), () => FleetStore.makeMemory())
    const policies = yield* Effect.provideService(
      Stack.make(stack, { name: adapter.provider, model: adapter.model }),
      FleetStore.FleetStore,
      store
    )
    const chat = Policy.guardChat(Stack.attempt(policies), HttpModel.make(adapter, options, client))
    const label = `${adapter.provider}/${adapter.model}`
    const retried = retry === undefined
      ? <A>(self: Effect.Effect<A, ModelError.ModelError>) => self
      : RetryAcquisition.retrying<ModelError.ModelError>(retry, {
        name: `${adapter.provider}.chat`,
        provider: adapter.provider,
        label,
        secrets: adapter.secrets,
        budget: policies.budget
      })
    // A call commits at its first chunk: everything before it (the request, the status, an error event first
    // in the stream) is retried; nothing after it is replayed.
    const call = (request: Chat.ChatRequest) =>
      retried(Effect.flatMap(chat(request), (stream) => readToCommit(stream, firstItem)))
    // The request's address for a network error's message (origin and path: a query is the caller's business).
    const address = (request: Chat.ChatRequest) => () => {
      const sent = adapter.request(request)
      return Wire.isFailure(sent) ? "" : sent.url.origin + sent.url.pathname
    }
    const failed = (method: string, request: Chat.ChatRequest) => (error: ModelError.ModelError) =>
      toAiError(module, method, error, address(request))
    const streamText = (provider: LanguageModel.ProviderOptions) => {
      const json = provider.responseFormat.type === "json" ? provider.responseFormat.objectName : undefined
      return Stream.unwrap(Effect.map(
        toRequest(module, "streamText", provider, options),
        (request) =>
          Stream.unwrap(call(request)).pipe(
            Stream.mapError(failed("streamText", request)),
            Stream.mapAccum(() => parts(json), (state, chunk) => [state, state.next(chunk)] as const)
          )
      ))
    }
    const model = yield* LanguageModel.make({
      streamText: (provider) => streamText(provider),
      generateText: (provider) => Effect.map(Stream.runCollect(streamText(provider)), (streamed) => collected(streamed))
    })
    return { model, policies }
  })

// The budget and the limiter named after the provider and model unless their `key` says otherwise, as the circuit
// is: two providers' layers on one store must not share one send rate.
const keyedBy = (key: string, options: Options): Options => ({
  ...options,
  budget: options.budget === false ? false : { key, ...options.budget },
  limiter: options.limiter === false ? false : { key, ...options.limiter }
})

// The prompt -----------------------------------------------------------------------

const toRequest = (
  module: string,
  method: string,
  provider: LanguageModel.ProviderOptions,
  options: Options
): Effect.Effect<Chat.ChatRequest, AiError.AiError> =>
  Effect.suspend(() => {
    const refused = (description: string) =>
      Effect.fail(AiError.make({ module, method, reason: new AiError.InvalidRequestError({ description }) }))
    const system: Array<string> = []
    const messages: Array<{ role: "user" | "assistant"; content: Array<Chat.ContentBlock> }> = []
    const push = (role: "user" | "assistant", blocks: ReadonlyArray<Chat.ContentBlock>) => {
      if (blocks.length === 0) return
      const last = messages[messages.length - 1]
      // Consecutive messages of one role (a tool message, then the user's) are one message to every provider.
      if (last?.role === role) last.content.push(...blocks)
      else messages.push({ role, content: [...blocks] })
    }
    for (const message of provider.prompt.content) {
      switch (message.role) {
        case "system":
          system.push(message.content)
          break
        case "user": {
          const blocks: Array<Chat.ContentBlock> = []
          for (const part of message.content) {
            if (part.type === "text") blocks.push({ type: "text", text: part.text })
            else {
              const image = imageOf(part)
              if (image === undefined) {
                return refused(`a file of type ${part.mediaType} (only images given as data can be sent)`)
              }
              blocks.push(image)
            }
          }
          push("user", blocks)
          break
        }
        case "assistant": {
          const blocks: Array<Chat.ContentBlock> = []
          for (const part of message.content) {
            switch (part.type) {
              case "text":
                blocks.push({ type: "text", text: part.text })
                break
              case "reasoning": {
                const kept = part.options[metadataKey] as { signature?: string; redactedData?: string } | undefined
                if (kept?.redactedData !== undefined) {
                  blocks.push({ type: "redacted_thinking", data: kept.redactedData })
                } else if (kept?.signature !== undefined) {
                  blocks.push({ type: "thinking", thinking: part.text, signature: kept.signature })
                }
                // Reasoning without a signature cannot be sent back as reasoning; it was the model's, not the user's.
                break
              }
              case "tool-call":
                if (!part.providerExecuted) {
                  blocks.push({ type: "tool_use", id: part.id, name: part.name, input: part.params })
                }
                break
              case "tool-result":
              case "tool-approval-request":
                break
              case "file":
                return refused("a file in an assistant message")
            }
          }
          push("assistant", blocks)
          break
        }
        case "tool": {
          const blocks: Array<Chat.ContentBlock> = []
          for (const part of message.content) {
            if (part.type !== "tool-result") {
              continue
            }
            blocks.push({
              type: "tool_result",
              toolUseId: part.id,
              content: typeof part.result === "string" ? part.result : JSON.stringify(part.result ?? null),
              isError: part.isFailure
            })
          }
          push("user", blocks)
          break
        }
      }
    }
    const tools: Array<Chat.Tool> = provider.tools.filter(Tool.isUserDefined).map((tool) => {
      const description = Tool.getDescription(tool)
      return {
        name: tool.name,
        ...(description === undefined ? {} : { description }),
        inputSchema: Tool.getJsonSchema(tool) as Record<string, unknown>
      }
    })
    let choice: Chat.ToolChoice | undefined = tools.length === 0 ? undefined : toolChoice(provider.toolChoice)
    let offered = tools
    const oneOf = typeof provider.toolChoice === "object" && "oneOf" in provider.toolChoice
      ? provider.toolChoice.oneOf
      : undefined
    if (oneOf !== undefined) {
      offered = tools.filter((tool) => oneOf.includes(tool.name))
    }
    // Structured output as every adapter can ask for it: one tool whose input is the object, which it must call.
    if (provider.responseFormat.type === "json") {
      offered = [...offered, {
        name: provider.responseFormat.objectName,
        description: "Respond with the object, as this tool's input.",
        inputSchema: Tool.getJsonSchemaFromSchema(provider.responseFormat.schema) as Record<string, unknown>
      }]
      choice = { tool: provider.responseFormat.objectName }
    }
    return Effect.succeed({
      messages,
      ...(system.length === 0 ? {} : { system: system.join("\n\n") }),
      ...(options.maxTokens === undefined ? {} : { maxTokens: options.maxTokens }),
      ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
      ...(offered.length === 0 ? {} : { tools: offered }),
      ...(choice === undefined || offered.length === 0 ? {} : { toolChoice: choice })
    })
  })

const imageOf = (part: Prompt.FilePart): Chat.ContentBlock | undefined => {
  if (!part.mediaType.startsWith("image/") || part.data instanceof URL) return undefined
  const data = typeof part.data === "string" ? part.data : Buffer.from(part.data).toString("base64")
  return { type: "image", mediaType: part.mediaType, data }
}

const toolChoice = (choice: LanguageModel.ToolChoice<string>): Chat.ToolChoice => {
  if (choice === "required") return "any"
  if (typeof choice === "string") return choice
  if ("tool" in choice) return { tool: choice.tool }
  return choice.mode === "required" ? "any" : "auto"
}

// The answer -----------------------------------------------------------------------

const finishReasons: Record<Chat.FinishReason, Response.FinishReason> = {
  stop: "stop",
  max_tokens: "length",
  stop_sequence: "stop",
  tool_use: "tool-calls",
  content_filter: "content-filter",
  unknown: "unknown"
}

// The stream parts of one answer, chunk by chunk: text and reasoning opened and closed around their deltas, a
// tool call's pieces, and the finish. Under structured output (`json`, the object's tool) the object's call is
// its text.
const parts = (json: string | undefined) => {
  let opened: { readonly kind: "text" | "reasoning"; readonly id: string } | undefined
  let signature: string | undefined
  let ids = 0
  let objectCall: string | undefined
  const close = (out: Array<Response.StreamPartEncoded>) => {
    if (opened === undefined) return
    out.push(
      opened.kind === "text"
        ? { type: "text-end", id: opened.id }
        : {
          type: "reasoning-end",
          id: opened.id,
          ...(signature === undefined ? {} : { metadata: { [metadataKey]: { signature } } })
        }
    )
    opened = undefined
    signature = undefined
  }
  const openAs = (kind: "text" | "reasoning", out: Array<Response.StreamPartEncoded>): string => {
    if (opened?.kind === kind) return opened.id
    close(out)
    const id = `${kind}_${ids++}`
    opened = { kind, id }
    out.push({ type: kind === "text" ? "text-start" : "reasoning-start", id })
    return id
  }
  return {
    next: (chunk: Chat.StreamChunk): Array<Response.StreamPartEncoded> => {
      const out: Array<Response.StreamPartEncoded> = []
      switch (chunk._tag) {
        case "TextDelta":
          out.push({ type: "text-delta", id: openAs("text", out), delta: chunk.text })
          break
        case "ThinkingDelta":
          out.push({ type: "reasoning-delta", id: openAs("reasoning", out), delta: chunk.thinking })
          break
        case "ThinkingSignature":
          openAs("reasoning", out)
          signature = (signature ?? "") + chunk.signature
          break
        case "RedactedThinking": {
          close(out)
          const id = `reasoning_${ids++}`
          out.push(
            { type: "reasoning-start", id },
            { type: "reasoning-end", id, metadata: { [metadataKey]: { redactedData: chunk.data } } }
          )
          break
        }
        case "ToolCallStart":
          close(out)
          if (chunk.name === json) objectCall = chunk.id
          else out.push({ type: "tool-params-start", id: chunk.id, name: chunk.name })
          break
        case "ToolCallDelta":
          if (chunk.id !== objectCall) {
            out.push({ type: "tool-params-delta", id: chunk.id, delta: chunk.argumentsDelta })
          }
          break
        case "ToolCallEnd":
          if (chunk.id === objectCall) {
            const id = openAs("text", out)
            out.push({ type: "text-delta", id, delta: JSON.stringify(chunk.arguments) })
            close(out)
          } else {
            out.push(
              { type: "tool-params-end", id: chunk.id },
              { type: "tool-call", id: chunk.id, name: chunk.name, params: chunk.arguments }
            )
          }
          break
        case "TurnFinished":
          close(out)
          out.push({
            type: "finish",
            reason: objectCall !== undefined && chunk.reason === "tool_use" ? "stop" : finishReasons[chunk.reason],
            usage: {
              inputTokens: {
                total: chunk.usage.inputTokens,
                ...(chunk.usage.cacheReadTokens === undefined ? {} : { cacheRead: chunk.usage.cacheReadTokens }),
                ...(chunk.usage.cacheWriteTokens === undefined ? {} : { cacheWrite: chunk.usage.cacheWriteTokens })
              },
              outputTokens: {
                total: chunk.usage.outputTokens,
                ...(chunk.usage.reasoningTokens === undefined ? {} : { reasoning: chunk.usage.reasoningTokens })
              }
            }
          })
          break
      }
      return out
    }
  }
}

// A whole answer's parts from its stream parts: each text and reasoning joined, the calls and the finish as
// they are.
const collected = (streamed: ReadonlyArray<Response.StreamPartEncoded>): Array<Response.PartEncoded> => {
  const out: Array<Response.PartEncoded> = []
  const open = new Map<string, { type: "text" | "reasoning"; text: string }>()
  for (const part of streamed) {
    switch (part.type) {
      case "text-start":
      case "reasoning-start":
        open.set(part.id, { type: part.type === "text-start" ? "text" : "reasoning", text: "" })
        break
      case "text-delta":
      case "reasoning-delta": {
        const piece = open.get(part.id)
        if (piece !== undefined) piece.text += part.delta
        break
      }
      case "text-end":
      case "reasoning-end": {
        const piece = open.get(part.id)
        open.delete(part.id)
        if (piece === undefined) break
        out.push({
          type: piece.type,
          text: piece.text,
          ...(part.metadata === undefined ? {} : { metadata: part.metadata })
        })
        break
      }
      case "tool-call":
      case "finish":
        out.push(part)
        break
    }
  }
  return out
}

// Errors -------------------------------------------------------------------------

/**
 * A `ModelError` as `effect/ai` says it: the reason that means the same (a rate limit with its `retryAfter`, a
 * spent quota, a key refused, a request refused, the provider's own failure, the network, with the request's
 * address from `url`, asked only then), the message as its description.
 *
 * @internal
 */
export const toAiError = (
  module: string,
  method: string,
  error: ModelError.ModelError,
  url: () => string
): AiError.AiError => {
  const description = error.message
  const reason = ((): AiError.AiErrorReason => {
    switch (error._tag) {
      case "RateLimitError":
        return new AiError.RateLimitError({
          ...(error.retryAfter === undefined
            ? {}
            : { retryAfter: Duration.millis(Duration.toMillis(error.retryAfter)) })
        })
      case "QuotaExceededError":
        return new AiError.QuotaExhaustedError({})
      case "AuthenticationError":
        return new AiError.AuthenticationError({ kind: "Unknown", description })
      case "InvalidRequestError":
        return new AiError.InvalidRequestError({ description })
      case "OverloadedError":
      case "ServerError":
      case "ConflictError":
        return new AiError.InternalProviderError({ description })
      case "TimeoutError":
      case "ConnectionError":
        return new AiError.NetworkError({ reason: "TransportError", method: "POST", url: url(), description })
      case "StreamError":
        return new AiError.InvalidResponseError({ description })
      case "CircuitOpenError":
      case "RetryBudgetExhaustedError":
      case "DeadlineError":
        return new AiError.UnknownError({ description })
    }
  })()
  return AiError.make({ module, method, reason })
}

/**
 * A provider's `layerConfig`: its options read from `Config`, then its layer.
 *
 * @internal
 */
export const layerConfig = <O, E, R>(
  options: Config.Wrap<O>,
  layer: (options: O) => Layer.Layer<LanguageModel.LanguageModel | Stack.Policies, E, R>
): Layer.Layer<LanguageModel.LanguageModel | Stack.Policies, Config.ConfigError | E, R> =>
  Layer.unwrap(Effect.map(Config.unwrap(options), layer))
