/**
 * @since 0.3.0
 */
export * as RetryingHttpClient from "./RetryingHttpClient.js"

/**
 * @since 0.4.0
 */
export * as ResilientHttpClient from "./ResilientHttpClient.js"
