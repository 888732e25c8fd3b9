/**
 * The output tokens a request that sets no `maxTokens` may produce, one
 * number for everything that must agree on it: what the Anthropic and
 * Bedrock adapters send (their APIs require a limit), what the limiter
 * reserves for such a request, and what the test providers assume.
 *
 * @internal
 */
export const defaultMaxTokens = 4096
