/**
 * A retry budget: retries may add at most a fixed share to the load, fleet
 * wide, so that an outage is not made worse by the retries it causes.
 *
 * Every call's first attempt is recorded; a retry is granted while the
 * retries of the last `window` (10 s) stay within `ratio` (0.5) times the
 * first attempts of that window, plus `minPerSecond` (10) per second of
 * window so that a quiet service can still retry. This is Finagle's
 * `RetryBudget` (ratio over a time window, with a floor). A refused retry
 * returns the call's last failure at once as a `RetryBudgetExhaustedError`
 * (transient; `cause` is the failure).
 *
 * What it is for, and what not:
 * - Under total failure it bounds the load at (1 + `ratio`) x the first
 *   attempts (plus the floor), instead of `maxAttempts` x.
 * - A failure rate the retries can cure passes untouched: with `ratio` 0.5 and
 *   3 attempts, a call retries p + p^2 times on average when a share p of
 *   attempts fail, so up to 36% of attempts may fail before a retry is refused.
 * - Throttling (429, 529, throttling codes) and an open circuit are free: the
 *   adaptive rate limiter paces throttled retries, and a retry of an open
 *   circuit reaches no server. Charging them would let a burst of 429s (the
 *   first second of a large batch) exhaust the budget and fail calls that a
 *   paced retry would have completed.
 *
 * The counts live in the `FleetStore` in context: processes with the same
 * `key` on one Redis share one budget.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { FleetStore, RetryBudget, RetryingModel } from "effect-retry-layer"
 *
 * const Retries = RetryingModel.layerWithBudget({ maxAttempts: 4 }).pipe(
 *   Layer.provide(RetryBudget.layer({ key: "anthropic-prod", ratio: 0.2 })),
 *   Layer.provide(FleetStore.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type DurationInput, type Tag, tag } from "../internal/compat.js"
import * as FleetStore from "./FleetStore.js"
import { batching } from "./internal/batch.js"
import type { InvalidOptions } from "./internal/invalidOptions.js"
import { validated } from "./internal/invalidOptions.js"
import * as Fields from "./internal/optionFields.js"
import * as ModelError from "./ModelError.js"
import * as RetryPolicy from "./RetryPolicy.js"

/**
 * The budget's options, validated: a bad value is an `InvalidOptions` naming
 * the field, and so is an unknown key.
 *
 * | field | default | meaning |
 * | --- | --- | --- |
 * | `key` | `"default"` | callers and processes with the same key share one budget |
 * | `ratio` | 0.5 | retries allowed per first attempt over the window |
 * | `minPerSecond` | 10 | retries allowed per second of window whatever the traffic |
 * | `window` | 10 seconds | how far back first attempts and retries count |
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly key: string
  readonly ratio: number
  readonly minPerSecond: number
  readonly window: Duration.Duration
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
    readonly ratio?: number
    readonly minPerSecond?: number
    readonly window?: DurationInput
  }
}

/**
 * The budget's window, for dashboards and tests.
 *
 * @category models
 * @since 0.1.0
 */
export interface State {
  readonly firstAttempts: number
  readonly retries: number
  /** Retries it would grant now. */
  readonly available: number
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Service {
  readonly key: string
  readonly options: Options
  /** Records the first attempt of a call. */
  readonly firstAttempt: Effect.Effect<void>
  /** Asks to retry after `error`; `false` means the budget refuses. A granted retry has been counted. */
  readonly admit: (error: unknown) => Effect.Effect<boolean>
  readonly state: Effect.Effect<State>
}

/**
 * @category tags
 * @since 0.1.0
 */
export interface RetryBudget {
  readonly _: unique symbol
}

/**
 * @category tags
 * @since 0.1.0
 */
export const RetryBudget: Tag<RetryBudget, Service> = tag<RetryBudget, Service>(
  // the key is what "Service not found" prints: it says what to provide
  "effect-retry-layer/RetryBudget (provide RetryBudget.layer(options), and a FleetStore under it)"
)

/**
 * Validates options (options already read pass as they are).
 *
 * @throws InvalidOptions
 * @category options
 * @since 0.1.0
 */
export const options: (input?: Options | Options.Input) => Options = Fields.reader(
  "RetryBudget",
  Fields.struct<Options>({
    key: Fields.withDefault(Fields.string(true), () => "default"),
    ratio: Fields.withDefault(Fields.number({ min: 0, max: 100 }), () => 0.5),
    minPerSecond: Fields.withDefault(Fields.number({ min: 0, max: 1e6 }), () => 10),
    window: Fields.withDefault(Fields.duration({ finite: true, positive: true }), () => Duration.seconds(10))
  })
)

/**
 * A budget on the `FleetStore` in context.
 *
 * Fails with `InvalidOptions` when `input` is not valid.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  input?: Options | Options.Input
): Effect.Effect<Service, InvalidOptions, FleetStore.FleetStore> =>
  validated(() => {
    const settings = options(input)
    const key = `budget:${settings.key}`
    const windowMillis = Duration.toMillis(settings.window)
    const window: FleetStore.Window = { bucketMillis: windowMillis / 10, buckets: 10 }
    const minimum = (settings.minPerSecond * windowMillis) / 1000
    return Effect.map(FleetStore.FleetStore, (store) => {
      const ask = (what: FleetStore.BudgetAsk) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => store.budget(key, now, window, what))
      // Concurrent callers share one store operation: n first attempts at once, or n retries of which the first
      // `granted` get theirs.
      const firstAttempts = batching((batch: ReadonlyArray<void>) =>
        Effect.as(
          Effect.flatMap(Clock.currentTimeMillis, (now) => store.firstAttempts(key, now, window, batch.length)),
          batch
        )
      )
      const retries = batching((batch: ReadonlyArray<void>) =>
        Effect.map(
          ask({ _tag: "Retry", count: batch.length, ratio: settings.ratio, minimum }),
          ({ granted }) => batch.map((_, i) => i < granted)
        )
      )
      return {
        key: settings.key,
        options: settings,
        firstAttempt: Effect.asVoid(firstAttempts(undefined)),
        admit: (error) => isFree(error) ? Effect.succeed(true) : retries(undefined),
        state: Effect.map(ask({ _tag: "Peek" }), ({ firstAttempts, retries }) => ({
          firstAttempts,
          retries,
          available: Math.max(0, Math.floor(settings.ratio * firstAttempts + minimum + 1e-9 - retries))
        }))
      }
    })
  })

/**
 * Provides a {@link RetryBudget} on the `FleetStore` in context.
 *
 * Fails with `InvalidOptions`, when built, if `input` is not valid.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  input?: Options | Options.Input
): Layer.Layer<RetryBudget, InvalidOptions, FleetStore.FleetStore> => Layer.effect(RetryBudget, make(input))

/**
 * Retries that cost nothing: throttling, which the limiter paces, and an
 * open circuit, which sends nothing.
 *
 * @category guards
 * @since 0.1.0
 */
export const isFree = (error: unknown): boolean =>
  RetryPolicy.isThrottling(error) || (ModelError.isModelError(error) && error._tag === "CircuitOpenError")
