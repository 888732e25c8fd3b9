/**
 * The dimensions of a provider's limit (requests, all tokens, input tokens,
 * output tokens), defined with the fleet store's steps (which the Redis
 * store runs as generated Lua). (Not marked internal: public types name
 * them, and the published declarations keep this module.)
 */
export { type Dimension, dimensions } from "./fleetSteps.js"

/**
 * The output tokens a request that sets no `maxTokens` may produce, one
 * number for everything that must agree on it: what the Anthropic and
 * Bedrock adapters send (their APIs require a limit), what the limiter
 * reserves for such a request, and what the test providers assume.
 *
 * @internal
 */
export const defaultMaxTokens = 4096
