/**
 * A `CompletionModel` decorator that retries the acquisition of every
 * `chatStream` call with a {@link RetrySchedule} policy.
 *
 * Only the acquisition is retried. By default it ends when the stream is open
 * (`commitOn: "open"`); with `commitOn: "first-chunk"` it ends when the first
 * chunk has arrived, so an error sent as a stream's first event (Anthropic's
 * `overloaded_error` over SSE) is retried too. Either way, nothing after the
 * first chunk handed to the caller is ever replayed: an error in the middle of
 * the stream reaches the caller and no request is reissued.
 *
 * Every call gets what {@link RetryAcquisition} gives: per-attempt timeout,
 * deadline, optional shared budget, spans, metrics, a warning log per retry
 * and the `onRetry` hook.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Stream } from "effect"
 * import { CompletionModel, RetryingModel } from "effect-retry-layer"
 *
 * declare const AnthropicLive: Layer.Layer<CompletionModel.CompletionModel>
 *
 * const ModelLive = RetryingModel.layer({ maxAttempts: 4, baseDelay: "500 millis", commitOn: "first-chunk" }).pipe(
 *   Layer.provide(AnthropicLive)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Stream from "effect/Stream"
import * as CompletionModel from "./CompletionModel.js"
import { firstItem } from "./core/internal/commit.js"
import type { InvalidOptions } from "./core/internal/invalidOptions.js"
import { check, checked, validatedLayer } from "./core/internal/invalidOptions.js"
import type * as ModelError from "./core/ModelError.js"
import * as RetryBudget from "./core/RetryBudget.js"
import { readToCommit } from "./internal/commit.js"
import * as RetryAcquisition from "./RetryAcquisition.js"
import * as RetrySchedule from "./RetrySchedule.js"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /**
   * A shared {@link RetryBudget} that must admit every retry; when it refuses,
   * the last failure comes back at once as a `RetryBudgetExhaustedError`.
   */
  readonly budget?: RetryBudget.Service
  /** Called once per retry, before its wait. */
  readonly onRetry?: (step: RetrySchedule.RetryStep<ModelError.ModelError>) => Effect.Effect<void>
  /**
   * Values scrubbed from every message the retry layer quotes (log lines, its own errors), for a model of your
   * own whose errors may echo a credential; the adapters scrub their own, and the providers' key formats are
   * always scrubbed.
   */
  readonly secrets?: ReadonlyArray<Redacted.Redacted>
}

/**
 * Decorates `inner` without a layer. `name` and `model` pass through.
 *
 * @throws InvalidRetryPolicy when `policy` is not valid
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  inner: CompletionModel.Service,
  policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input = {},
  options: Options = {}
): CompletionModel.Service => {
  const validated = RetrySchedule.policy(policy)
  checked("RetryingModel", options, fields)
  // The commit point is applied here; the acquisition gets the rest of the policy.
  const acquisition = validated.commitOn === "open"
    ? validated
    : RetrySchedule.RetryPolicy.from({ ...validated, commitOn: "open" })
  const retry = RetryAcquisition.retrying<ModelError.ModelError>(acquisition, {
    name: "chatStream",
    provider: inner.name,
    label: `${inner.name}/${inner.model}`,
    attributes: { "gen_ai.system": inner.name, "gen_ai.request.model": inner.model },
    ...options
  })
  return {
    name: inner.name,
    model: inner.model,
    chatStream: validated.commitOn === "first-chunk"
      ? (request) => retry(commitOnFirstChunk(inner.chatStream(request)))
      : (request) => retry(inner.chatStream(request))
  }
}

/**
 * Decorates whatever `CompletionModel` the layer is provided with.
 *
 * Fails, when built, with `InvalidRetryPolicy` if `policy` is not valid, `InvalidOptions` if an option is unknown
 * or of the wrong kind.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input = {},
  options: Omit<Options, "budget"> = {}
): Layer.Layer<
  CompletionModel.CompletionModel,
  InvalidOptions | RetrySchedule.InvalidRetryPolicy,
  CompletionModel.CompletionModel
> => decorating(policy, options, Effect.succeed(undefined))

/**
 * {@link layer} with the {@link RetryBudget} in context admitting every retry; it fails as {@link layer} does.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerWithBudget = (
  policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input = {},
  options: Omit<Options, "budget"> = {}
): Layer.Layer<
  CompletionModel.CompletionModel,
  InvalidOptions | RetrySchedule.InvalidRetryPolicy,
  CompletionModel.CompletionModel | RetryBudget.RetryBudget
> => decorating(policy, options, RetryBudget.RetryBudget)

// Both layers: the model in context, decorated, with the budget `budget` gives (none: `undefined`).
const decorating = <R>(
  policy: RetrySchedule.RetryPolicy | RetrySchedule.RetryPolicy.Input,
  options: Omit<Options, "budget">,
  budget: Effect.Effect<RetryBudget.Service | undefined, never, R>
) =>
  validatedLayer(() => {
    const validated = RetrySchedule.policy(policy)
    checked("RetryingModel", options, fields)
    return Layer.effect(
      CompletionModel.CompletionModel,
      Effect.zipWith(
        CompletionModel.CompletionModel,
        budget,
        (inner, b) => make(inner, validated, b === undefined ? options : { ...options, budget: b })
      )
    )
  })

/**
 * Moves the commit point of an acquisition from "stream open" to "first chunk
 * received": the effect opens the stream and waits for its first chunk, so a
 * failure before any chunk fails the acquisition (and may be retried). The
 * stream it returns starts with that chunk and then reads on from the same
 * pull; nothing is read twice. The stream must be run, once: running it
 * releases the underlying stream when it ends.
 *
 * @category combinators
 * @since 0.1.0
 */
export const commitOnFirstChunk = <A, E, R>(
  acquire: Effect.Effect<Stream.Stream<A, E>, E, R>
): Effect.Effect<Stream.Stream<A, E>, E, R> =>
  // A pull may give an empty chunk; the commit waits for a real one, or the end.
  Effect.flatMap(acquire, (stream) => readToCommit(stream, firstItem))

// The keys of `Options`, checked where the model or the layer is made.
const fields = { budget: check.any, onRetry: check.function, secrets: check.secrets } as const
