/**
 * A provider's limits per minute as a loopback server keeps them: what both lines' tests and benches serve.
 *
 * @since 0.1.0
 */

/**
 * Limits per minute; a dimension left out is not limited.
 *
 * @category models
 * @since 0.1.0
 */
export interface Limits {
  readonly requests?: number
  /** Input and output together, as OpenAI counts. */
  readonly tokens?: number
  readonly inputTokens?: number
  readonly outputTokens?: number
}

/**
 * The admission rule on its own, for a server outside Effect (a loopback
 * HTTP handler, say) that should behave like {@link make}: `admit(now, cost)`
 * charges the cost and gives 0, or gives the milliseconds until it would fit
 * (charging nothing); `settle` gives back; `headers` are the rate-limit
 * headers as of `now` in a provider's format.
 *
 * @category fixtures
 * @since 0.1.0
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
