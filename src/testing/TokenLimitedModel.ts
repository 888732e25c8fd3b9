/**
 * A `CompletionModel` with a provider's per-minute limits on requests and
 * tokens, that says where it stands in rate-limit headers as Anthropic or
 * OpenAI do: for testing pacing by headers and token costs, in virtual time.
 *
 * Each limit is a bucket of one minute's worth, refilled continuously (how
 * Anthropic describes its limits). A request is admitted at arrival if every
 * limited dimension has room for its cost: one request, its input tokens, and
 * its `maxTokens` of output (counted against output and total tokens until it
 * finishes, then settled to what it produced, as Anthropic counts output);
 * otherwise it is answered 429 with `retry-after` (whole seconds until it
 * would fit) and the headers. The headers, as of the admission, are read by
 * `RateLimitHeaders.parse` and reported (`RateLimitHeaders.report`) when they
 * arrive (`headersAfter`, by default with the answer), as an adapter does;
 * the answer comes after `latency`, with the usage and the same state on its
 * `TurnFinished` (or its error).
 * `headers: "none"` is a provider (or a proxy) that sends none. With
 * `failureRate`, that share of admitted requests is answered 503 (a
 * `ServerError`, the headers on it) after `latency`: a provider failing at
 * random, however far below its limits.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { TokenLimitedModel } from "effect-retry-layer/testing"
 *
 * const program = Effect.gen(function*() {
 *   const [model, stats] = yield* TokenLimitedModel.make({
 *     limits: { requests: 4000, inputTokens: 2_000_000, outputTokens: 400_000 },
 *     latency: "200 millis"
 *   })
 *   // ... drive calls through your layers, then:
 *   const { accepted, refused } = yield* stats
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as CompletionModel from "../CompletionModel.js"
import { defaultMaxTokens } from "../core/internal/tokens.js"
import * as ModelError from "../core/ModelError.js"
import * as RateLimitHeaders from "../core/RateLimitHeaders.js"
import { type Limits, providerLimits } from "../core/testing/providerLimits.js"

export { type Limits, providerLimits } from "../core/testing/providerLimits.js"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly limits: Limits
  /** Which headers it sends. Default `"anthropic"`. */
  readonly headers?: "anthropic" | "openai" | "none"
  /** Time from a request to its answer. Default 0. */
  readonly latency?: Duration.DurationInput
  /**
   * Time from a request to its headers, at most `latency`: a stream's time to its first byte. Default `latency`
   * (the headers come with the answer, as a response that is not streamed has them; the latest a stream's come).
   */
  readonly headersAfter?: Duration.DurationInput
  /**
   * Share of admitted requests answered with a 503 `ServerError`, drawn from `Random`. Default 0. A failed
   * request counts against the request limit; its reserved output goes back.
   */
  readonly failureRate?: number
  /**
   * What a request really uses. Default: input one token per 4 characters of its text, output half its
   * `maxTokens` (4096 when unset).
   */
  readonly usage?: (request: CompletionModel.ChatRequest) => CompletionModel.Usage
}

/**
 * Requests admitted and refused so far.
 *
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly accepted: number
  /** Answered 429. */
  readonly refused: number
  /** Admitted, then answered 503 (`failureRate`). */
  readonly failed: number
}

/**
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<readonly [CompletionModel.Service, Effect.Effect<Stats>]> =>
  Effect.gen(function*() {
    const latency = Duration.decode(options.latency ?? 0)
    const headersAfter = Duration.min(latency, Duration.decode(options.headersAfter ?? latency))
    const format = options.headers ?? "anthropic"
    const limits = providerLimits(options.limits)
    const usageOf = options.usage ?? defaultUsage
    const failureRate = options.failureRate ?? 0
    const stats = yield* Ref.make<Stats>({ accepted: 0, refused: 0, failed: 0 })
    const service: CompletionModel.Service = {
      name: "token-limited",
      model: format,
      chatStream: (request) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          const usage = usageOf(request)
          const reserved = request.maxTokens ?? defaultMaxTokens
          const wait = limits.admit(now, {
            requests: 1,
            inputTokens: usage.inputTokens,
            outputTokens: reserved,
            tokens: usage.inputTokens + reserved
          })
          const headers = format === "none" ? {} : limits.headers(now, format)
          const rateLimit = Option.getOrUndefined(RateLimitHeaders.parse(headers, now))
          const draw = wait === 0 && failureRate > 0 ? yield* Random.next : 1
          const outcome = wait > 0 ? "refused" : draw < failureRate ? "failed" : "accepted"
          yield* Ref.update(stats, (s) => ({ ...s, [outcome]: s[outcome] + 1 }))
          // As an adapter does when the headers arrive.
          yield* Effect.sleep(headersAfter)
          if (rateLimit !== undefined) yield* RateLimitHeaders.report(rateLimit)
          yield* Effect.sleep(Duration.subtract(latency, headersAfter))
          if (wait > 0) {
            return yield* Effect.fail(
              new ModelError.RateLimitError({
                provider: "token-limited",
                status: 429,
                message: "token-limited: over a limit",
                retryAfter: Duration.seconds(Math.ceil(wait / 1000)),
                ...(rateLimit === undefined ? {} : { rateLimit })
              })
            )
          }
          if (outcome === "failed") {
            limits.settle(yield* Clock.currentTimeMillis, { outputTokens: reserved, tokens: reserved })
            return yield* Effect.fail(
              new ModelError.ServerError({
                provider: "token-limited",
                status: 503,
                message: "token-limited: unavailable",
                ...(rateLimit === undefined ? {} : { rateLimit })
              })
            )
          }
          // The answer is produced: the output reserved beyond what it used goes back.
          const unused = Math.max(0, reserved - usage.outputTokens)
          limits.settle(yield* Clock.currentTimeMillis, { outputTokens: unused, tokens: unused })
          return Stream.make(
            CompletionModel.StreamChunk.TextDelta({ text: "ok" }),
            CompletionModel.StreamChunk.TurnFinished({
              reason: "stop",
              usage,
              ...(rateLimit === undefined ? {} : { rateLimit })
            })
          )
        })
    }
    return [service, Ref.get(stats)] as const
  })

const defaultUsage = (request: CompletionModel.ChatRequest): CompletionModel.Usage => {
  const chars = request.messages.reduce(
    (n, m) => n + (typeof m.content === "string" ? m.content.length : JSON.stringify(m.content).length),
    request.system?.length ?? 0
  )
  return { inputTokens: Math.ceil(chars / 4), outputTokens: Math.floor((request.maxTokens ?? defaultMaxTokens) / 2) }
}
