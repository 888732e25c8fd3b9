/**
 * @since 0.1.0
 */
export * as CompletionModel from "./CompletionModel.js"

/**
 * @since 0.1.0
 */
export * as ModelError from "./core/ModelError.js"

/**
 * @since 0.1.0
 */
export * as Retryable from "./core/Retryable.js"

/**
 * The one place errors this library did not make are recognised.
 *
 * @since 0.1.0
 */
export * as ForeignError from "./core/ForeignError.js"

/**
 * @since 0.1.0
 */
export * as RetrySchedule from "./RetrySchedule.js"

/**
 * @since 0.1.0
 */
export { RetryPolicy } from "./RetrySchedule.js"

/**
 * @since 0.1.0
 */
export * as RetryingModel from "./RetryingModel.js"

/**
 * @since 0.1.0
 */
export * as RetryAfter from "./core/RetryAfter.js"

/**
 * The providers' rate-limit headers, read into one state.
 *
 * @since 0.1.0
 */
export * as RateLimitHeaders from "./core/RateLimitHeaders.js"

/**
 * @since 0.1.0
 */
export * as HttpClassification from "./core/HttpClassification.js"

/**
 * @since 0.1.0
 */
export * as FleetStore from "./core/FleetStore.js"

/**
 * @since 0.1.0
 */
export { InvalidOptions } from "./core/internal/invalidOptions.js"

/**
 * The shape of a policy over attempts, the call it applies to, and `compose`.
 *
 * @since 0.1.0
 */
export * as Policy from "./Policy.js"

/**
 * @since 0.1.0
 */
export * as RetryBudget from "./core/RetryBudget.js"

/**
 * @since 0.1.0
 */
export * as AdaptiveRateLimiter from "./AdaptiveRateLimiter.js"

/**
 * A call's priority, which the limiter sends by.
 *
 * @since 0.1.0
 */
export * as Priority from "./core/Priority.js"

/**
 * A call's deadline, which the limiter does not send past.
 *
 * @since 0.1.0
 */
export * as Deadline from "./core/Deadline.js"

/**
 * A call's tenant, whose share of a key the limiter keeps to its weight.
 *
 * @since 0.1.0
 */
export * as Tenant from "./core/Tenant.js"

/**
 * @since 0.1.0
 */
export * as CircuitBreaker from "./CircuitBreaker.js"

/**
 * @since 0.1.0
 */
export * as ResilientModel from "./ResilientModel.js"

/**
 * @since 0.1.0
 */
export * as RetryAcquisition from "./RetryAcquisition.js"
