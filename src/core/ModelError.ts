/**
 * The errors a {@link CompletionModel} fails with.
 *
 * Every error carries the facts a caller needs to act on it (provider, HTTP
 * status, provider request id, the server's retry hint, the provider's own
 * error type) and classifies itself through the {@link Retryable} protocol:
 * each tag has a default (a rate limit is transient, a bad request is not),
 * and an explicit word from the server (`x-should-retry`) overrides it.
 *
 * @example
 * ```ts
 * import { Duration } from "effect"
 * import { ModelError, Retryable } from "effect-retry-layer"
 *
 * const e = new ModelError.RateLimitError({
 *   provider: "anthropic",
 *   message: "rate limited",
 *   status: 429,
 *   retryAfter: Duration.seconds(2)
 * })
 * Retryable.classify(e) // Transient { retryAfter: Some(2 seconds) }
 * ```
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import type * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import type * as RateLimitHeaders from "./RateLimitHeaders.js"
import * as Retryable from "./Retryable.js"

/**
 * The facts every model error carries.
 *
 * @category models
 * @since 0.1.0
 */
export interface ModelErrorFields {
  /** Which adapter produced the error, e.g. `"anthropic"`. */
  readonly provider: string
  readonly message: string
  /** The HTTP status, when the error came from a response. */
  readonly status?: number
  /** The provider's request id (`request-id` / `x-request-id`), to quote in a support ticket. */
  readonly requestId?: string
  /** The server's hint of when to try again, already parsed. */
  readonly retryAfter?: Duration.Duration
  /** The provider's own error type, e.g. `"overloaded_error"` or `"ThrottlingException"`. */
  readonly errorType?: string
  /** The server's explicit word (`x-should-retry`); overrides the default classification. */
  readonly shouldRetry?: boolean
  /** The provider's rate-limit headers on the failed response, where it sent them. */
  readonly rateLimit?: RateLimitHeaders.RateLimitState
  readonly cause?: unknown
}

const TypeId: unique symbol = Symbol.for("effect-retry-layer/ModelError")

/**
 * The instance side shared by every model error.
 *
 * @category models
 * @since 0.1.0
 */
export interface ModelErrorShape<Tag extends string>
  extends Cause.YieldableError, Readonly<Omit<ModelErrorFields, "cause" | "message">>, Retryable.Retryable
{
  readonly _tag: Tag
  readonly [TypeId]: typeof TypeId
}

// Whether each tag is worth another attempt when the server says nothing more (`x-should-retry`).
const transientTags = {
  RateLimitError: true,
  OverloadedError: true,
  ServerError: true,
  ConflictError: true,
  TimeoutError: true,
  ConnectionError: true,
  CircuitOpenError: true,
  RetryBudgetExhaustedError: true,
  DeadlineError: false,
  QuotaExceededError: false,
  InvalidRequestError: false,
  AuthenticationError: false,
  StreamError: false
} as const

type Tag_ = keyof typeof transientTags

const ModelErrorClass = <const Tag extends Tag_>(
  tag: Tag
): new(fields: ModelErrorFields) => ModelErrorShape<Tag> =>
  class extends Data.TaggedError(tag)<ModelErrorFields> {
    [Retryable.symbol](): Retryable.RetryClassification {
      return (this.shouldRetry ?? transientTags[tag]) ? Retryable.transient(this.retryAfter) : Retryable.permanent
    }

    readonly [TypeId]: typeof TypeId = TypeId
  }

/**
 * 429, or a provider's throttling code. Transient.
 *
 * @category errors
 * @since 0.1.0
 */
export class RateLimitError extends ModelErrorClass("RateLimitError") {}

/**
 * The provider is overloaded (Anthropic's 529 / `overloaded_error`). Transient.
 *
 * @category errors
 * @since 0.1.0
 */
export class OverloadedError extends ModelErrorClass("OverloadedError") {}

/**
 * A 5xx response. Transient.
 *
 * @category errors
 * @since 0.1.0
 */
export class ServerError extends ModelErrorClass("ServerError") {}

/**
 * 409 or 425: the request raced another one or came too early. Transient.
 *
 * @category errors
 * @since 0.1.0
 */
export class ConflictError extends ModelErrorClass("ConflictError") {}

/**
 * 408, or no response within the client's timeout. Transient.
 *
 * @category errors
 * @since 0.1.0
 */
export class TimeoutError extends ModelErrorClass("TimeoutError") {}

/**
 * The connection was refused, reset or closed before a response. Transient.
 *
 * @category errors
 * @since 0.1.0
 */
export class ConnectionError extends ModelErrorClass("ConnectionError") {}

/**
 * A circuit breaker is open and failed the call without sending it.
 * Transient, with `retryAfter` = the time until the breaker lets a probe
 * through, so a retry layer above waits exactly that long.
 *
 * @category errors
 * @since 0.1.0
 */
export class CircuitOpenError extends ModelErrorClass("CircuitOpenError") {}

/**
 * The shared retry budget refused a retry: the call's last failure, returned
 * at once instead of retried, because the fleet has been failing too much to
 * add more load. Transient (a later call may go through); `cause` is the
 * last failure.
 *
 * @category errors
 * @since 0.1.0
 */
export class RetryBudgetExhaustedError extends ModelErrorClass("RetryBudgetExhaustedError") {}

/**
 * The call would not be answered before its deadline (`Deadline.withDeadline`, or the retry policy's
 * `maxElapsed`), so the limiter did not send it: refused when it asked for a send slot (the estimated
 * wait for one, and the answer's estimated time, are past the deadline), or taken out of the line when
 * its deadline came too close. Nothing was sent for this attempt. Permanent: a retry would be later still.
 *
 * @category errors
 * @since 0.1.0
 */
export class DeadlineError extends ModelErrorClass("DeadlineError") {
  /** When the caller gives up, in epoch milliseconds. */
  declare readonly deadline?: number
  /** The estimated wait for a send slot, in milliseconds, when the call asked for one. */
  declare readonly waitMillis?: number
  /** The estimated time from sending to the answer, in milliseconds (the limiter's measured round trip). */
  declare readonly latencyMillis?: number
  constructor(
    fields: ModelErrorFields & {
      readonly deadline?: number
      readonly waitMillis?: number
      readonly latencyMillis?: number
    }
  ) {
    super(fields)
  }
}

/**
 * The account is out of quota or credit (OpenAI's `insufficient_quota`, sent
 * with a 429). Retrying cannot help. Permanent.
 *
 * @category errors
 * @since 0.1.0
 */
export class QuotaExceededError extends ModelErrorClass("QuotaExceededError") {}

/**
 * The request itself is wrong (400, 404, 413, 422 and other 4xx). Permanent.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidRequestError extends ModelErrorClass("InvalidRequestError") {}

/**
 * The credentials were refused (401, 403). Permanent.
 *
 * @category errors
 * @since 0.1.0
 */
export class AuthenticationError extends ModelErrorClass("AuthenticationError") {}

/**
 * The response could not be understood, or the stream broke in a way that
 * says nothing about the server's health (malformed SSE or JSON). Permanent.
 *
 * @category errors
 * @since 0.1.0
 */
export class StreamError extends ModelErrorClass("StreamError") {}

/**
 * @category models
 * @since 0.1.0
 */
export type ModelError =
  | RateLimitError
  | OverloadedError
  | ServerError
  | ConflictError
  | TimeoutError
  | ConnectionError
  | CircuitOpenError
  | RetryBudgetExhaustedError
  | DeadlineError
  | QuotaExceededError
  | InvalidRequestError
  | AuthenticationError
  | StreamError

/**
 * @category models
 * @since 0.1.0
 */
export type Tag = ModelError["_tag"]

const constructors: { readonly [K in Tag]: new(fields: ModelErrorFields) => Extract<ModelError, { _tag: K }> } = {
  RateLimitError,
  OverloadedError,
  ServerError,
  ConflictError,
  TimeoutError,
  ConnectionError,
  CircuitOpenError,
  RetryBudgetExhaustedError,
  DeadlineError,
  QuotaExceededError,
  InvalidRequestError,
  AuthenticationError,
  StreamError
}

/**
 * Builds the error for a tag chosen at run time, e.g. by a classification table.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (tag: Tag, fields: ModelErrorFields): ModelError => new constructors[tag](fields)

/**
 * Whether an error of this tag is retried when the server says nothing more.
 *
 * @category guards
 * @since 0.1.0
 */
export const isTransientTag = (tag: Tag): boolean => transientTags[tag]

/**
 * The one definition of throttling: a rate limit or an overload (429, 529,
 * and the throttling codes of every provider table). What an adaptive rate
 * limiter slows down for.
 *
 * @category guards
 * @since 0.1.0
 */
export const isThrottlingTag = (tag: Tag): boolean => tag === "RateLimitError" || tag === "OverloadedError"

/**
 * The tag a status gets when nothing more specific is known: 408 timeout;
 * 409, 425 conflict; 429 rate limit; 529 overloaded; other 5xx server error
 * (transient); 401, 403 authentication; 400, 404, 413, 422 and every other
 * status invalid request (permanent).
 *
 * @category classification
 * @since 0.1.0
 */
export const tagForStatus = (status: number): Tag => {
  switch (status) {
    case 401:
    case 403:
      return "AuthenticationError"
    case 408:
      return "TimeoutError"
    case 409:
    case 425:
      return "ConflictError"
    case 429:
      return "RateLimitError"
    case 529:
      return "OverloadedError"
  }
  return status >= 500 && status <= 599 ? "ServerError" : "InvalidRequestError"
}

/**
 * @category guards
 * @since 0.1.0
 */
export const isModelError = (u: unknown): u is ModelError => Predicate.hasProperty(u, TypeId)
