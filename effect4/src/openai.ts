/**
 * The OpenAI provider: an `effect/ai` `LanguageModel` with retries.
 *
 * @since 1.0.0
 */
export * as OpenAI from "./providers/OpenAI.js"
