/**
 * A circuit breaker that decorates a `CompletionModel`, like the retry layer.
 *
 * Closed, it passes calls and counts failures. It opens after
 * `consecutiveFailures` failures in a row, or when the failure rate over the
 * last `failureRate.window` calls reaches `failureRate.threshold`. Open, it
 * fails every call at once, without calling the model, with a
 * `CircuitOpenError` that is transient and whose `retryAfter` is the time
 * until the breaker half-opens, so a retry layer above waits exactly that
 * long. After `resetTimeout` it half-opens and lets `halfOpenProbes` calls
 * through: a successful probe closes it, a failed one opens it again. Every
 * change of state is logged.
 *
 * What counts as a failure: by default a transient error that is not
 * throttling. 429 and 529 are flow control (the retry layer honours their
 * `Retry-After`, the adaptive rate limiter slows down); opening the circuit on
 * them would stop every caller for the whole reset timeout when the server
 * asked for a second. A permanent error (a 400, a 401) shows the server is up
 * and counts as a success. Only the acquisition is seen; a stream that breaks
 * later does not count.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { CircuitBreaker, RetryingModel } from "effect-retry-layer"
 *
 * const Guarded = RetryingModel.layer().pipe(
 *   Layer.provide(CircuitBreaker.layer({ consecutiveFailures: 5, resetTimeout: "30 seconds" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as CompletionModel from "./CompletionModel.js"
import * as ModelError from "./ModelError.js"
import * as Retryable from "./Retryable.js"

/**
 * @since 0.1.0
 */
export interface Options {
  /** Open after this many counted failures in a row. Default 5. */
  readonly consecutiveFailures?: number
  /** Also open when, over the last `window` calls (at least `minimumCalls` of them), this share failed. Off by default. */
  readonly failureRate?: {
    readonly threshold: number
    readonly window: number
    readonly minimumCalls?: number
  }
  /** How long to stay open before letting a probe through. Default 30 seconds. */
  readonly resetTimeout?: Duration.DurationInput
  /** How many calls may probe at once while half-open. Default 1. */
  readonly halfOpenProbes?: number
  /** Which errors count as failures. Default: transient and not throttling. */
  readonly isFailure?: (error: ModelError.ModelError) => boolean
}

/**
 * The breaker's state, as logged.
 *
 * @since 0.1.0
 */
export type State =
  | { readonly _tag: "Closed"; readonly consecutive: number; readonly recent: ReadonlyArray<boolean> }
  | { readonly _tag: "Open"; readonly until: number }
  | { readonly _tag: "HalfOpen"; readonly probes: number }

/**
 * @since 0.1.0
 */
export const defaultIsFailure = (error: ModelError.ModelError): boolean =>
  Retryable.isTransient(error) && !ModelError.isThrottling(error)

/**
 * Decorates `inner`. The state is shared by every call through the returned model.
 *
 * @since 0.1.0
 */
export const make = (inner: CompletionModel.Service, options: Options = {}): Effect.Effect<CompletionModel.Service> =>
  Effect.map(Ref.make<State>(closed), (ref) => {
    const settings = resolve(options)
    const circuit = `${inner.name}/${inner.model}`
    const logChange = (from: State, to: State, why: string) =>
      (to._tag === "Open" ? Effect.logWarning : Effect.logInfo)(
        `circuit ${circuit}: ${from._tag} -> ${to._tag} (${why})`
      ).pipe(Effect.annotateLogs({ circuit, state: to._tag }))

    const admit = Effect.flatMap(
      Clock.currentTimeMillis,
      (now) =>
        Ref.modify(ref, (state): readonly [Admission, State] => {
          switch (state._tag) {
            case "Closed":
              return [{ _tag: "Pass" }, state]
            case "Open":
              return now >= state.until
                ? [{ _tag: "Probe", opened: true }, { _tag: "HalfOpen", probes: 1 }]
                : [{ _tag: "Reject", retryAfter: Option.some(Duration.millis(state.until - now)) }, state]
            case "HalfOpen":
              return state.probes < settings.halfOpenProbes
                ? [{ _tag: "Probe", opened: false }, { _tag: "HalfOpen", probes: state.probes + 1 }]
                : [{ _tag: "Reject", retryAfter: Option.none() }, state]
          }
        })
    )

    const settle = (admission: Admission, exit: Exit.Exit<unknown, ModelError.ModelError>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.modify(ref, (state) => {
          const [next, why] = transition(settings, state, admission, outcomeOf(settings, exit), now)
          return [why === undefined ? Effect.void : logChange(state, next, why), next] as const
        })).pipe(Effect.flatten)

    const rejected = (retryAfter: Option.Option<Duration.Duration>) =>
      new ModelError.CircuitOpenError({
        provider: inner.name,
        message: `${circuit}: circuit open; ${
          Option.match(retryAfter, {
            onNone: () => "a probe is in flight",
            onSome: (d) => `next probe in ${Duration.format(d)}`
          })
        }`,
        ...Option.match(retryAfter, { onNone: () => ({}), onSome: (d) => ({ retryAfter: d }) })
      })

    return {
      name: inner.name,
      model: inner.model,
      chatStream: (request) =>
        Effect.flatMap(admit, (admission) => {
          if (admission._tag === "Reject") return Effect.fail(rejected(admission.retryAfter))
          const call = Effect.onExit(inner.chatStream(request), (exit) => settle(admission, exit))
          return admission._tag === "Probe" && admission.opened
            ? Effect.zipRight(
              logChange({ _tag: "Open", until: 0 }, { _tag: "HalfOpen", probes: 1 }, "reset timeout passed; probing"),
              call
            )
            : call
        })
    }
  })

/**
 * Decorates whatever `CompletionModel` the layer is provided with.
 *
 * @since 0.1.0
 */
export const layer = (
  options?: Options
): Layer.Layer<CompletionModel.CompletionModel, never, CompletionModel.CompletionModel> =>
  Layer.effect(
    CompletionModel.CompletionModel,
    Effect.flatMap(CompletionModel.CompletionModel, (inner) => make(inner, options))
  )

// Internals -------------------------------------------------------------------

type Admission =
  | { readonly _tag: "Pass" }
  | { readonly _tag: "Probe"; readonly opened: boolean }
  | { readonly _tag: "Reject"; readonly retryAfter: Option.Option<Duration.Duration> }

type Outcome = "success" | "failure" | "interrupted"

interface Settings {
  readonly consecutiveFailures: number
  readonly failureRate:
    | { readonly threshold: number; readonly window: number; readonly minimumCalls: number }
    | undefined
  readonly resetTimeout: number
  readonly halfOpenProbes: number
  readonly isFailure: (error: ModelError.ModelError) => boolean
}

const closed: State = { _tag: "Closed", consecutive: 0, recent: [] }

const resolve = (options: Options): Settings => ({
  consecutiveFailures: options.consecutiveFailures ?? 5,
  failureRate: options.failureRate === undefined ? undefined : {
    threshold: options.failureRate.threshold,
    window: options.failureRate.window,
    minimumCalls: options.failureRate.minimumCalls ?? options.failureRate.window
  },
  resetTimeout: Duration.toMillis(Duration.decode(options.resetTimeout ?? "30 seconds")),
  halfOpenProbes: options.halfOpenProbes ?? 1,
  isFailure: options.isFailure ?? defaultIsFailure
})

// A defect in the model counts as a failure; an interruption says nothing about the server.
const outcomeOf = (settings: Settings, exit: Exit.Exit<unknown, ModelError.ModelError>): Outcome =>
  Exit.isSuccess(exit)
    ? "success"
    : Cause.isInterruptedOnly(exit.cause)
    ? "interrupted"
    : Option.match(Cause.failureOption(exit.cause), {
      onNone: () => "failure",
      onSome: (error) => settings.isFailure(error) ? "failure" : "success"
    })

/** The next state, and why it changed (undefined when the change is not worth a log line). */
const transition = (
  settings: Settings,
  state: State,
  admission: Admission,
  outcome: Outcome,
  now: number
): readonly [State, string | undefined] => {
  const open: State = { _tag: "Open", until: now + settings.resetTimeout }
  if (admission._tag === "Probe") {
    if (state._tag !== "HalfOpen") return [state, undefined]
    if (outcome === "success") return [closed, "probe succeeded"]
    if (outcome === "failure") return [open, "probe failed"]
    return [{ _tag: "HalfOpen", probes: state.probes - 1 }, undefined]
  }
  // A call let through while closed that settles after the circuit changed says nothing new.
  if (state._tag !== "Closed" || outcome === "interrupted") return [state, undefined]
  const failed = outcome === "failure"
  const consecutive = failed ? state.consecutive + 1 : 0
  if (consecutive >= settings.consecutiveFailures) return [open, `${consecutive} failures in a row`]
  const rate = settings.failureRate
  if (rate === undefined) return [{ _tag: "Closed", consecutive, recent: state.recent }, undefined]
  const recent = [...state.recent, failed].slice(-rate.window)
  const failures = recent.filter(Boolean).length
  return recent.length >= rate.minimumCalls && failures / recent.length >= rate.threshold
    ? [open, `${failures} of the last ${recent.length} calls failed`]
    : [{ _tag: "Closed", consecutive, recent }, undefined]
}
