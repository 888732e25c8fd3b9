/**
 * The Anthropic provider: an `effect/ai` `LanguageModel` with retries.
 *
 * @since 1.0.0
 */
export * as Anthropic from "./providers/Anthropic.js"
