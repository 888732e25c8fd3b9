/**
 * effect-retry-layer on Effect 4: the same retry policy, classification and provider error model as the
 * Effect 3 line (shared source), with Effect 4's `Schedule`, services and `effect/ai`.
 *
 * @since 1.0.0
 */

/**
 * The errors of a model call, each classifying itself as permanent or transient.
 *
 * @since 1.0.0
 */
export * as ModelError from "./core/ModelError.js"

/**
 * The protocol by which an error says whether it is worth retrying.
 *
 * @since 1.0.0
 */
export * as Retryable from "./core/Retryable.js"

/**
 * Classification of errors this library did not make (HTTP client, network, SDK errors).
 *
 * @since 1.0.0
 */
export * as ForeignError from "./core/ForeignError.js"

/**
 * The retry policy and the Effect 4 `Schedule` it builds.
 *
 * @since 1.0.0
 */
export * as RetrySchedule from "./RetrySchedule.js"

/**
 * A validated retry policy.
 *
 * @since 1.0.0
 */
export { RetryPolicy } from "./RetrySchedule.js"

/**
 * Parsing of `Retry-After` and the providers' own hints.
 *
 * @since 1.0.0
 */
export * as RetryAfter from "./core/RetryAfter.js"

/**
 * The providers' rate-limit headers.
 *
 * @since 1.0.0
 */
export * as RateLimitHeaders from "./core/RateLimitHeaders.js"

/**
 * An HTTP status, headers and body read as a tagged `ModelError`.
 *
 * @since 1.0.0
 */
export * as HttpClassification from "./core/HttpClassification.js"

/**
 * The retry layer for `effect/ai`'s `LanguageModel`.
 *
 * @since 1.0.0
 */
export * as RetryingLanguageModel from "./RetryingLanguageModel.js"

/**
 * Retries the acquisition of any resource with a policy: the driver every retry of this line goes through.
 *
 * @since 1.0.0
 */
export * as RetryAcquisition from "./RetryAcquisition.js"

/**
 * The recommended stack in one layer for any `effect/ai` `LanguageModel`.
 *
 * @since 1.0.0
 */
export * as ResilientLanguageModel from "./ResilientLanguageModel.js"

/**
 * Where the fleet pieces keep what their callers share (memory here; Redis in `effect-retry-layer/redis`).
 *
 * @since 1.0.0
 */
export * as FleetStore from "./core/FleetStore.js"

/**
 * A retry budget shared by the processes of a fleet.
 *
 * @since 1.0.0
 */
export * as RetryBudget from "./core/RetryBudget.js"

/**
 * An adaptive rate limiter paced by throttles and the provider's rate-limit headers.
 *
 * @since 1.0.0
 */
export * as AdaptiveRateLimiter from "./core/AdaptiveRateLimiter.js"

/**
 * A call's priority, which the limiter sends by.
 *
 * @since 1.0.0
 */
export * as Priority from "./core/Priority.js"

/**
 * A call's deadline, which the limiter does not send past.
 *
 * @since 1.0.0
 */
export * as Deadline from "./core/Deadline.js"

/**
 * A call's tenant, whose share of a key the limiter keeps to its weight.
 *
 * @since 1.0.0
 */
export * as Tenant from "./core/Tenant.js"

/**
 * A circuit breaker.
 *
 * @since 1.0.0
 */
export * as CircuitBreaker from "./core/CircuitBreaker.js"

/**
 * The shape of a policy over one attempt, and `compose`.
 *
 * @since 1.0.0
 */
export * as Policy from "./core/Policy.js"

/**
 * The error of options that failed validation.
 *
 * @since 1.0.0
 */
export { InvalidOptions } from "./core/internal/invalidOptions.js"
