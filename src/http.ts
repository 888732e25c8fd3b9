/**
 * @since 0.1.0
 */
export * as RetryingHttpClient from "./RetryingHttpClient.js"

/**
 * @since 0.1.0
 */
export * as ResilientHttpClient from "./ResilientHttpClient.js"
