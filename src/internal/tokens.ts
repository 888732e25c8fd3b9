/**
 * The dimensions of a provider's limit (requests, all tokens, input tokens,
 * output tokens), in the order everything goes through them: the header
 * reader, the fleet's quota and the limiter's charges. (Not marked internal:
 * public types name them, and the published declarations keep this module.)
 */
export const dimensions = ["requests", "tokens", "inputTokens", "outputTokens"] as const

export type Dimension = typeof dimensions[number]

/**
 * The output tokens a request that sets no `maxTokens` may produce, one
 * number for everything that must agree on it: what the Anthropic and
 * Bedrock adapters send (their APIs require a limit), what the limiter
 * reserves for such a request, and what the test providers assume.
 *
 * @internal
 */
export const defaultMaxTokens = 4096
