/**
 * What a retry says about itself, the same on both lines: the failure's tag, status and message as the log line,
 * the span and the metrics give them, and the line logged before each retry's wait.
 */
import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import type * as Redacted from "effect/Redacted"
import * as ForeignError from "../ForeignError.js"
import * as ModelError from "../ModelError.js"
import { classifyUnder, type RetryPolicy, type RetryStep } from "../RetryPolicy.js"
import { quoted } from "./text.js"

/** @internal */
export const errorTag = (error: unknown): string =>
  Predicate.hasProperty(error, "_tag") && Predicate.isString(error._tag)
    ? error._tag
    : error instanceof Error && error.name.length <= 64
    ? error.name
    : "UnknownError"

/**
 * A model error's status, or the one a foreign error carries (`status`, `statusCode`, AWS `$metadata`, ...).
 *
 * @internal
 */
export const statusOf = (error: unknown): number | undefined =>
  ModelError.isModelError(error) ? error.status : ForeignError.recognize(error)?.status

/**
 * What an attempt's span says of its failure.
 *
 * @internal
 */
export const failureAttributes = (policy: RetryPolicy, error: unknown): Record<string, unknown> => {
  const status = statusOf(error)
  return {
    "retry.classification": classifyUnder(policy, error)._tag,
    "error.type": errorTag(error),
    ...(status === undefined ? {} : { "http.response.status_code": status })
  }
}

/** @internal */
export const roundedMillis = (d: Duration.Duration): number => Math.round(Duration.toMillis(d))

/**
 * ": message" of any thrown value, or nothing for none or an empty one; a `message` that throws or is not text
 * must not break a retry, and a huge one is cut to 2 KiB so that it is not written into every retry's log line
 * (scrubbed of secrets first).
 *
 * @internal
 */
export const messageOf = (error: unknown, secrets: ReadonlyArray<Redacted.Redacted>): string => {
  try {
    const message = Predicate.hasProperty(error, "message") ? String(error.message) : ""
    return message === "" ? "" : `: ${quoted(message, secrets)}`
  } catch {
    return ": (the error's message could not be read)"
  }
}

/**
 * The warning logged before a retry's wait, and its annotations.
 *
 * @internal
 */
export const retryLine = (
  label: string,
  policy: RetryPolicy,
  step: RetryStep<unknown>,
  secrets: ReadonlyArray<Redacted.Redacted>
): { readonly message: string; readonly annotations: Record<string, unknown> } => {
  const tag = errorTag(step.error)
  const status = statusOf(step.error)
  const classification = step.classification
  const hint = classification._tag === "Transient" && classification.retryAfter._tag === "Some"
    ? roundedMillis(classification.retryAfter.value)
    : undefined
  const delay = roundedMillis(step.delay)
  // A reader compares the wait with the server's hint, which is never more than the wait (RetryPolicy.delayFor).
  const why = hint === undefined
    ? ""
    : delay === hint
    ? ", as the server asked"
    : ` (the server's ${hint} ms hint is the floor; backoff and jitter above it)`
  return {
    message: `${label}: attempt ${step.attempt} of ${policy.maxAttempts} failed with ${tag}` +
      (status === undefined ? "" : ` (status ${status})`) +
      `${messageOf(step.error, secrets)}; retrying in ${delay} ms${why}`,
    annotations: {
      attempt: step.attempt,
      delayMillis: delay,
      error: tag,
      ...(status === undefined ? {} : { status })
    }
  }
}

/** A retry the budget refused: the last failure, with its facts, in a `RetryBudgetExhaustedError`. */
export const exhausted = (
  label: string,
  budget: { readonly key: string },
  error: unknown,
  secrets: ReadonlyArray<Redacted.Redacted>
) => {
  const facts = ModelError.isModelError(error) ? error : undefined
  return new ModelError.RetryBudgetExhaustedError({
    provider: facts?.provider ?? label,
    message: `${label}: retry budget "${budget.key}" exhausted; not retrying ${errorTag(error)}${
      messageOf(error, secrets)
    }`,
    ...(facts?.status === undefined ? {} : { status: facts.status }),
    ...(facts?.requestId === undefined ? {} : { requestId: facts.requestId }),
    ...(facts?.retryAfter === undefined ? {} : { retryAfter: facts.retryAfter }),
    cause: error
  })
}
