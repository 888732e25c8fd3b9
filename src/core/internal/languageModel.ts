/**
 * What both lines' `RetryingLanguageModel` share, written once: where an `effect/ai` stream commits, how an
 * `error` part before that point classifies, and how a failure that amounts to one of this library's errors
 * (or to none) is handed to the schedule. Each line reads its own `AiError` classes into a `ModelError`; the
 * parts of a stream have the same `type`s on both lines.
 */
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import type * as Redacted from "effect/Redacted"
import * as HttpClassification from "../HttpClassification.js"
import * as ModelError from "../ModelError.js"
import * as Retryable from "../Retryable.js"
import { Classified } from "./classified.js"
import type { Judge } from "./commit.js"
import { knownErrorTypes } from "./errorTypes.js"

/**
 * A stream part, as far as the commit point reads it.
 *
 * @internal
 */
export interface Part {
  readonly type: string
}

/**
 * Parts that carry nothing yet: what comes after them is the first content, the stream's commit point.
 *
 * @internal
 */
export const holding: ReadonlySet<string> = new Set([
  "response-metadata",
  "text-start",
  "reasoning-start",
  "tool-params-start"
])

/**
 * A failure of the inner model (or an error part), classified for the schedule; the caller gets it back.
 *
 * @internal
 */
export type Attempt = Classified<unknown>

/**
 * An `error` part before the first content part: the parts held so far and the error part itself.
 *
 * @internal
 */
export class ErrorPart<P extends Part = Part> {
  constructor(
    readonly parts: ReadonlyArray<P>,
    readonly part: P,
    readonly message: string
  ) {}
}

/** @internal */
export const isErrorPart = (u: unknown): u is ErrorPart => u instanceof ErrorPart

/**
 * An in-band error reads as the adapters read the same event: by its provider type (Anthropic's
 * `{type, message}`, OpenAI's event with a `code`); a type no table knows is a permanent `StreamError`.
 *
 * @internal
 */
export const errorPartAttempt = <P extends Part>(
  name: string,
  parts: ReadonlyArray<P>,
  part: P,
  secrets: ReadonlyArray<Redacted.Redacted>
): Attempt => {
  let data = "null"
  try {
    data = JSON.stringify((part as { readonly error?: unknown }).error) ?? "null"
  } catch {
    // Not JSON (a scripted part, a cycle): no provider type to read.
  }
  const seen = HttpClassification.fromErrorEvent({ provider: name, data, errorTypes: knownErrorTypes, secrets })
  return new Classified(new ErrorPart(parts, part, seen.message), Retryable.classify(seen), {
    _tag: seen._tag,
    message: seen.message
  })
}

/**
 * The commit point of an `effect/ai` stream: its first content part. Parts before it are held; an `error` part
 * before it fails the attempt, classified (with the parts held so far, for the caller should retries end).
 *
 * @internal
 */
export const firstContent =
  <P extends Part>(name: string, secrets: ReadonlyArray<Redacted.Redacted>): Judge<P, Attempt> => (parts, held) => {
    const first = parts.findIndex((part) => !holding.has(part.type))
    if (first === -1) return -1
    const part = parts[first]!
    return part.type === "error"
      ? { fail: errorPartAttempt(name, [...held, ...parts.slice(0, first + 1)], part, secrets) }
      : first
  }

/**
 * A failure of the inner model, as the schedule sees it: what it amounts to (`seen`) or, if nothing, permanent.
 *
 * @internal
 */
export const attempt = (
  error: unknown,
  seen: ModelError.ModelError | undefined,
  secrets: ReadonlyArray<Redacted.Redacted>,
  floor?: Duration.Duration
): Attempt =>
  new Classified(error, floored(seen === undefined ? Retryable.permanent : Retryable.classify(seen), floor), {
    _tag: seen?._tag ??
      (Predicate.hasProperty(error, "_tag") && Predicate.isString(error._tag) ? error._tag : "AiError"),
    message: seen?.message ??
      (Predicate.hasProperty(error, "message") && Predicate.isString(error.message)
        ? HttpClassification.safeText(error.message, secrets)
        : ""),
    status: seen?.status
  })

// A hint the error gives besides the response's (Effect 4's `RateLimitError.retryAfter`) is a floor too.
const floored = (
  classification: Retryable.RetryClassification,
  floor: Duration.Duration | undefined
): Retryable.RetryClassification =>
  floor === undefined || classification._tag === "Permanent"
    ? classification
    : Retryable.transient(Option.match(classification.retryAfter, {
      onNone: () => floor,
      onSome: (hint) => Duration.max(hint, floor)
    }))

/**
 * What the caller gets back: the inner model's own failure, or the error part.
 *
 * @internal
 */
export const original = (error: unknown): unknown =>
  error instanceof Classified ? (error.value instanceof ErrorPart ? error.value.part : error.value) : error

/**
 * What the caller is told of a failure of the layer's own (a timeout, a budget's refusal), as an `AiError`'s
 * description.
 *
 * @internal
 */
export const ownFailure = (failure: unknown): string =>
  ModelError.isModelError(failure) ? `${failure._tag}: ${failure.message}` : "the retry layer failed the call"

/**
 * A prompt's size in characters, as it is sent (a string, messages or a Prompt); 0 for what will not serialize.
 *
 * @internal
 */
export const promptChars = (prompt: unknown): number => {
  if (typeof prompt === "string") return prompt.length
  try {
    return JSON.stringify(prompt)?.length ?? 0
  } catch {
    return 0
  }
}
