/**
 * The Bedrock provider: an `effect/ai` `LanguageModel` with retries.
 *
 * @since 1.0.0
 */
export * as Bedrock from "./providers/Bedrock.js"
