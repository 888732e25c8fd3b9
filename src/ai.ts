/**
 * @since 0.1.0
 */
export * as RetryingLanguageModel from "./RetryingLanguageModel.js"

/**
 * @since 0.1.0
 */
export * as ResilientLanguageModel from "./ResilientLanguageModel.js"
