/**
 * @since 0.3.0
 */
export * as RetryingHttpClient from "./RetryingHttpClient.js"
