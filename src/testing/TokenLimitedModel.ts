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
 * `RateLimitHeaders.parse` and reported (`RateLimitHeaders.report`) at once,
 * as an adapter does when they arrive; the answer comes after `latency`, with
 * the usage and the same state on its `TurnFinished` (or its error).
 * `headers: "none"` is a provider (or a proxy) that sends none.
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
 * @since 0.3.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as CompletionModel from "../CompletionModel.js"
import { defaultMaxTokens } from "../core/internal/tokens.js"
import * as ModelError from "../core/ModelError.js"
import * as RateLimitHeaders from "../core/RateLimitHeaders.js"

/**
 * Limits per minute; a dimension left out is not limited.
 *
 * @category models
 * @since 0.3.0
 */
export interface Limits {
  readonly requests?: number
  /** Input and output together, as OpenAI counts. */
  readonly tokens?: number
  readonly inputTokens?: number
  readonly outputTokens?: number
}

/**
 * @category models
 * @since 0.3.0
 */
export interface Options {
  readonly limits: Limits
  /** Which headers it sends. Default `"anthropic"`. */
  readonly headers?: "anthropic" | "openai" | "none"
  /** Time from a request to its answer. Default 0. */
  readonly latency?: Duration.DurationInput
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
 * @since 0.3.0
 */
export interface Stats {
  readonly accepted: number
  /** Answered 429. */
  readonly refused: number
}

/**
 * @category constructors
 * @since 0.3.0
 */
export const make = (options: Options): Effect.Effect<readonly [CompletionModel.Service, Effect.Effect<Stats>]> =>
  Effect.gen(function*() {
    const latency = Duration.decode(options.latency ?? 0)
    const format = options.headers ?? "anthropic"
    const limits = providerLimits(options.limits)
    const usageOf = options.usage ?? defaultUsage
    const stats = yield* Ref.make<Stats>({ accepted: 0, refused: 0 })
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
          // As an adapter does when the headers arrive (here, at once: the answer's latency is all body).
          if (rateLimit !== undefined) yield* RateLimitHeaders.report(rateLimit)
          yield* Ref.update(stats, (s) =>
            wait === 0 ? { ...s, accepted: s.accepted + 1 } : { ...s, refused: s.refused + 1 })
          yield* Effect.sleep(latency)
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

/**
 * The admission rule on its own, for a server outside Effect (a loopback
 * HTTP handler, say) that should behave like {@link make}: `admit(now, cost)`
 * charges the cost and gives 0, or gives the milliseconds until it would fit
 * (charging nothing); `settle` gives back; `headers` are the rate-limit
 * headers as of `now` in a provider's format.
 *
 * @category fixtures
 * @since 0.3.0
 */
export const providerLimits = (limits: Limits) => {
  const dimensions = (Object.keys(limits) as Array<keyof Limits>).filter((d) => limits[d] !== undefined)
  const available: { -readonly [K in keyof Limits]?: number } = Object.fromEntries(
    dimensions.map((d) => [d, limits[d]])
  )
  let at: number | undefined
  const refill = (now: number) => {
    if (at !== undefined && now > at) {
      for (const d of dimensions) {
        available[d] = Math.min(limits[d]!, available[d]! + ((now - at) * limits[d]!) / 60_000)
      }
    }
    if (at === undefined || now > at) at = now
  }
  return {
    admit: (now: number, cost: Limits): number => {
      refill(now)
      let wait = 0
      for (const d of dimensions) {
        const need = Math.min(cost[d] ?? 0, limits[d]!) - available[d]!
        if (need > 0) wait = Math.max(wait, (need * 60_000) / limits[d]!)
      }
      if (wait > 0) return wait
      for (const d of dimensions) available[d] = available[d]! - (cost[d] ?? 0)
      return 0
    },
    settle: (now: number, back: Limits): void => {
      refill(now)
      for (const d of dimensions) available[d] = Math.min(limits[d]!, available[d]! + (back[d] ?? 0))
    },
    headers: (now: number, format: "anthropic" | "openai"): Record<string, string> => {
      refill(now)
      const out: Record<string, string> = {}
      for (const d of dimensions) {
        const limit = limits[d]!
        const remaining = Math.max(0, Math.floor(available[d]!))
        const untilFull = ((limit - available[d]!) * 60_000) / limit
        if (format === "anthropic") {
          const name = d === "inputTokens" ? "input-tokens" : d === "outputTokens" ? "output-tokens" : d
          out[`anthropic-ratelimit-${name}-limit`] = String(limit)
          out[`anthropic-ratelimit-${name}-remaining`] = String(remaining)
          out[`anthropic-ratelimit-${name}-reset`] = new Date(Math.ceil((now + untilFull) / 1000) * 1000)
            .toISOString().replace(".000Z", "Z")
        } else if (d === "requests" || d === "tokens") {
          out[`x-ratelimit-limit-${d}`] = String(limit)
          out[`x-ratelimit-remaining-${d}`] = String(remaining)
          out[`x-ratelimit-reset-${d}`] = `${(untilFull / 1000).toFixed(3)}s`
        }
      }
      return out
    }
  }
}

const defaultUsage = (request: CompletionModel.ChatRequest): CompletionModel.Usage => {
  const chars = request.messages.reduce(
    (n, m) => n + (typeof m.content === "string" ? m.content.length : JSON.stringify(m.content).length),
    request.system?.length ?? 0
  )
  return { inputTokens: Math.ceil(chars / 4), outputTokens: Math.floor((request.maxTokens ?? defaultMaxTokens) / 2) }
}
