/**
 * A circuit breaker: stops calling a server that is failing most calls, and
 * tries it again after a pause.
 *
 * Closed, it passes calls and counts failures. It opens when at least
 * `failureRate.threshold` (50%) of the last `failureRate.window` (100) calls
 * failed, once `failureRate.minimumCalls` (100) calls are in the window, the
 * defaults of resilience4j; or, if `consecutiveFailures` is set, after that
 * many failures in a row. Open, it fails every call at once, without calling
 * the server, with a `CircuitOpenError` that is transient and whose
 * `retryAfter` is the time until the breaker half-opens, so a retry layer
 * above waits exactly that long. After `resetTimeout` (30 s) it half-opens
 * and lets `halfOpenProbes` (1) calls through: a successful probe closes it,
 * a failed one opens it again. Every change of state is logged.
 *
 * Why a rate over many calls by default, not a run of failures: a healthy
 * server that fails 30% of calls at random gives runs of 5 failures every few
 * hundred calls; a breaker that opens on them stops a working service for
 * its whole reset timeout (measured: p99 latency 8 s -> 376 s).
 *
 * What counts as a failure: by default a transient error that is not
 * throttling. 429 and 529 are flow control (the adaptive rate limiter slows
 * down, the retry honours their `Retry-After`); a permanent error (a 400, a
 * 401) shows the server is up and counts as a success. Only the acquisition
 * is seen; a stream that breaks later does not count.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { CircuitBreaker } from "effect-retry-layer"
 *
 * declare const call: Effect.Effect<string, Error>
 *
 * const guarded = Effect.gen(function*() {
 *   const breaker = yield* CircuitBreaker.make({ failureRate: { threshold: 0.5, window: 20 }, resetTimeout: "10 seconds" })
 *   return yield* breaker.apply(call)
 * })
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { type DurationInput, failureOption, isInterruptedOnly } from "../internal/compat.js"
import type { InvalidOptions } from "./internal/invalidOptions.js"
import { validated } from "./internal/invalidOptions.js"
import * as Fields from "./internal/optionFields.js"
import * as ModelError from "./ModelError.js"
import type * as Policy from "./Policy.js"
import * as Retryable from "./Retryable.js"
import * as RetryPolicy from "./RetryPolicy.js"

/**
 * The breaker's options, validated: a bad value (`halfOpenProbes: -1`,
 * `consecutiveFailures: 0`, `window: 0`, an unknown key) is an
 * `InvalidOptions` naming the field.
 *
 * | field | default | meaning |
 * | --- | --- | --- |
 * | `key` | the model, `name/model` | names the circuit in logs and errors |
 * | `failureRate` | `{ threshold: 0.5, window: 100, minimumCalls: window }` | open when this share of the last `window` calls failed; `false` for none |
 * | `consecutiveFailures` | none | also open after this many failures in a row |
 * | `resetTimeout` | 30 seconds | how long to stay open before a probe |
 * | `halfOpenProbes` | 1 | calls that may probe at once while half-open |
 * | `isFailure` | transient and not throttling | which errors count as failures |
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly key?: string
  readonly failureRate: FailureRate | false
  readonly consecutiveFailures?: number
  readonly resetTimeout: Duration.Duration
  readonly halfOpenProbes: number
  readonly isFailure?: (error: unknown) => boolean
}

/**
 * Open when `threshold` of the last `window` calls failed, once `minimumCalls` (default `window`) were made.
 *
 * @category models
 * @since 0.1.0
 */
export interface FailureRate {
  readonly threshold: number
  readonly window: number
  readonly minimumCalls?: number
}

/**
 * @category models
 * @since 0.1.0
 */
export declare namespace Options {
  /**
   * What {@link make} and {@link layer} accept.
   *
   * @category options
   * @since 0.1.0
   */
  export interface Input {
    readonly key?: string
    readonly failureRate?: FailureRate | false
    readonly consecutiveFailures?: number
    readonly resetTimeout?: DurationInput
    readonly halfOpenProbes?: number
    readonly isFailure?: (error: unknown) => boolean
  }
}

/**
 * The breaker's state.
 *
 * @category models
 * @since 0.1.0
 */
export type State =
  | {
    readonly _tag: "Closed"
    /** Failures in a row. */
    readonly consecutive: number
    /** Calls in the failure-rate window, and how many of them failed. */
    readonly calls: number
    readonly failures: number
  }
  | { readonly _tag: "Open"; readonly until: number }
  | { readonly _tag: "HalfOpen"; readonly probes: number }

/**
 * A breaker: `apply` guards any acquisition; `state` reads it.
 *
 * @category models
 * @since 0.1.0
 */
export interface CircuitBreaker extends Policy.Policy {
  readonly key: string
  readonly options: Options
  readonly apply: <A, E, R>(acquire: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ModelError.CircuitOpenError, R>
  readonly state: Effect.Effect<State>
}

/**
 * @category classification
 * @since 0.1.0
 */
export const defaultIsFailure = (error: unknown): boolean =>
  Retryable.isTransient(error) && !RetryPolicy.isThrottling(error)

// A count of calls, failures or probes.
const count = Fields.number({ min: 1, max: 100_000, int: true })

/**
 * Validates options (options already read pass as they are).
 *
 * @throws InvalidOptions
 * @category options
 * @since 0.1.0
 */
export const options: (input?: Options | Options.Input) => Options = Fields.reader(
  "CircuitBreaker",
  Fields.struct<Options>({
    key: Fields.string(true),
    failureRate: Fields.withDefault(
      Fields.orFalse(
        Fields.struct<FailureRate>({
          threshold: Fields.number({ min: 0, max: 1, exclusiveMin: true }),
          window: count,
          minimumCalls: count
        }, {
          check: (r) =>
            r.minimumCalls === undefined || r.minimumCalls <= r.window
              ? []
              : [{ _tag: "Type", path: ["minimumCalls"], message: "must not be above window" }]
        }),
        "an object { threshold, window, minimumCalls? }"
      ),
      () => ({ threshold: 0.5, window: 100 })
    ),
    consecutiveFailures: count,
    resetTimeout: Fields.withDefault(Fields.duration({ finite: true, positive: true }), () => Duration.seconds(30)),
    halfOpenProbes: Fields.withDefault(count, () => 1),
    isFailure: Fields.func("a function from an error to a boolean")
  })
)

/**
 * A breaker of its own: every acquisition through `apply` shares its state.
 * (A constructor closure, long for that reason only: the circuit's state and
 * the small functions over it, as cockatiel's breakers keep theirs in a class.)
 *
 * Fails with `InvalidOptions` when `input` is not valid.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (input?: Options | Options.Input): Effect.Effect<CircuitBreaker, InvalidOptions> =>
  validated(() => {
    const settings = options(input)
    const key = settings.key ?? "circuit"
    const isFailure = settings.isFailure ?? defaultIsFailure
    const resetTimeout = Duration.toMillis(settings.resetTimeout)
    const rate = settings.failureRate === false
      ? undefined
      : { ...settings.failureRate, minimumCalls: settings.failureRate.minimumCalls ?? settings.failureRate.window }
    return Effect.sync(() => {
      let state: Mode = { _tag: "Closed" }
      let consecutive = 0
      // The failure-rate window: a ring of the last calls' outcomes and a running count, O(1) a call.
      const ring = new Uint8Array(rate?.window ?? 0)
      let calls = 0
      let failures = 0
      let next = 0
      const record = (failed: boolean) => {
        if (ring.length === 0) return
        if (calls === ring.length) failures -= ring[next]!
        else calls++
        ring[next] = failed ? 1 : 0
        failures += ring[next]!
        next = (next + 1) % ring.length
      }
      const reset = () => {
        consecutive =
          calls =
          failures =
          next =
            0
        ring.fill(0)
      }

      const change = (to: Mode, why: string) => {
        const from = state._tag
        state = to
        if (to._tag === "Closed") reset()
        return (to._tag === "Open" ? Effect.logWarning : Effect.logInfo)(
          `circuit ${key}: ${from} -> ${to._tag} (${why})`
        )
          .pipe(Effect.annotateLogs({ circuit: key, state: to._tag }))
      }

      const admit = (now: number): Admission => {
        switch (state._tag) {
          case "Closed":
            return "pass"
          case "Open":
            if (now < state.until) return Option.some(Duration.millis(state.until - now))
            state = { _tag: "HalfOpen", probes: 1 }
            return "first-probe"
          case "HalfOpen":
            if (state.probes >= settings.halfOpenProbes) return Option.none()
            state = { _tag: "HalfOpen", probes: state.probes + 1 }
            return "probe"
        }
      }

      const settle = (admission: Admission, exit: Exit.Exit<unknown, unknown>, now: number): Effect.Effect<void> => {
        const outcome = outcomeOf(isFailure, exit)
        const open: Mode = { _tag: "Open", until: now + resetTimeout }
        if (admission !== "pass") {
          if (state._tag !== "HalfOpen") return Effect.void
          if (outcome === "success") return change({ _tag: "Closed" }, "probe succeeded")
          if (outcome === "failure") return change(open, "probe failed")
          state = { _tag: "HalfOpen", probes: state.probes - 1 }
          return Effect.void
        }
        // A call let through while closed that settles after the circuit changed says nothing new.
        if (state._tag !== "Closed" || outcome === "interrupted") return Effect.void
        const failed = outcome === "failure"
        consecutive = failed ? consecutive + 1 : 0
        record(failed)
        if (settings.consecutiveFailures !== undefined && consecutive >= settings.consecutiveFailures) {
          return change(open, `${consecutive} failures in a row`)
        }
        if (rate !== undefined && calls >= rate.minimumCalls && failures / calls >= rate.threshold) {
          return change(open, `${failures} of the last ${calls} calls failed`)
        }
        return Effect.void
      }

      const rejected = (retryAfter: Option.Option<Duration.Duration>) =>
        new ModelError.CircuitOpenError({
          provider: key,
          message: `${key}: circuit open; ${
            Option.match(retryAfter, {
              onNone: () => "a probe is in flight",
              onSome: (d) => `next probe in ${Duration.format(d)}`
            })
          }`,
          ...Option.match(retryAfter, { onNone: () => ({}), onSome: (d) => ({ retryAfter: d }) })
        })

      const apply = <A, E, R>(self: Effect.Effect<A, E, R>) =>
        Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<A, E | ModelError.CircuitOpenError, R> => {
          const admission = admit(now)
          if (Option.isOption(admission)) return Effect.fail(rejected(admission))
          const call = Effect.onExit(
            self,
            (exit) => Effect.flatMap(Clock.currentTimeMillis, (at) => settle(admission, exit, at))
          )
          return admission === "first-probe"
            ? Effect.andThen(
              Effect.logInfo(`circuit ${key}: Open -> HalfOpen (reset timeout passed; probing)`).pipe(
                Effect.annotateLogs({ circuit: key, state: "HalfOpen" })
              ),
              call
            )
            : call
        })

      return {
        key,
        options: settings,
        apply,
        applyCall: (call) => apply(call.run(settleNothing)),
        settles: false,
        state: Effect.sync((): State =>
          state._tag === "Closed" ? { _tag: "Closed", consecutive, calls, failures } : state
        )
      }
    })
  })

/**
 * The options with the circuit named after what it guards, unless `key`
 * says otherwise: a `CompletionModel` by its name and model, anything else
 * by its name. The one default of a circuit's key (a breaker made on its own
 * is `"circuit"`).
 *
 * @category options
 * @since 0.1.0
 */
export const keyed = (settings: Options, guarded: { readonly name: string; readonly model?: string }): Options =>
  settings.key !== undefined
    ? settings
    : { ...settings, key: guarded.model === undefined ? guarded.name : `${guarded.name}/${guarded.model}` }

// Internals -------------------------------------------------------------------

// The breaker charges nothing: it has nothing to settle.
const settleNothing: Policy.Settle = () => Effect.void

type Mode =
  | { readonly _tag: "Closed" }
  | { readonly _tag: "Open"; readonly until: number }
  | { readonly _tag: "HalfOpen"; readonly probes: number }

/** Pass, a probe (the first of a half-open spell, or another), or a refusal with the time to the probe. */
type Admission = "pass" | "first-probe" | "probe" | Option.Option<Duration.Duration>

// A defect counts as a failure; an interruption says nothing about the server.
const outcomeOf = (isFailure: (error: unknown) => boolean, exit: Exit.Exit<unknown, unknown>) =>
  Exit.isSuccess(exit)
    ? "success"
    : isInterruptedOnly(exit.cause)
    ? "interrupted"
    : Option.match(failureOption(exit.cause), {
      onNone: () => "failure" as const,
      onSome: (error) => isFailure(error) ? "failure" as const : "success" as const
    })
