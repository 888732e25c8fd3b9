/**
 * Client-side adaptive rate limiting for a whole fleet: every call through
 * the limiter, first attempts and retries alike, waits for a send slot, and
 * the rate of slots follows what the server takes, measured fleet-wide.
 *
 * - It starts on, in slow start: `burst` (100) sends at once, then
 *   `initialRate` (50/s) growing by one round trip's worth with every
 *   delivered response, so the rate about doubles every round trip until the
 *   first throttle, as TCP's slow start does.
 * - A throttle (429, 529, a throttling code) cuts the rate to `beta` (0.7)
 *   times the rate the server delivered over the last `window` (1 s), or the
 *   current rate if lower; once per round trip for the whole fleet (a throttle
 *   of a request whose send slot was granted before the last cut cuts
 *   nothing, however late it was sent). With nothing
 *   delivered in the window yet, the cut starts from `beta` x the send rate: a
 *   throttle may be counted before the answers of the same moment, and a cut
 *   to nothing would idle the fleet.
 * - After a cut the rate regrows along CUBIC's curve to the cut rate in
 *   `recovery` (1 s), or in the server's `Retry-After` if longer (up to a
 *   minute), then probes
 *   above it; above the cut rate never more than twice the delivered rate,
 *   never below `minRate`. When the fleet delivers 1.5 times the cut rate the
 *   server has grown: the limiter goes back to slow start from where it is.
 * - The throttle that cuts also holds every send of the fleet for its
 *   `Retry-After`, up to `maxHold` (250 ms: what was sent in the last round
 *   trip drains meanwhile). A longer hint stretches the recovery instead of
 *   idling the fleet: the call that got it still waits its full hint in the
 *   retry schedule, but one conservative hint from a server that refills
 *   continuously would otherwise stop every process for it (measured with
 *   Retry-After 30 s: 1.03x the floor this way, 3.05x holding the full hint).
 *   For a provider whose limits reset in fixed windows, raise `maxHold`.
 * - With the provider's rate-limit headers (`rateLimitHeaders`, on by
 *   default) the ramp is only the blind start: the first answer's request
 *   limit makes the bucket a minute's worth deep, refilled at the limit, and
 *   each call is charged against the provider's budget before it is sent
 *   (docs/fleet.md).
 *
 * The bucket, the delivered count and the rate control live in the
 * `FleetStore` in context: processes with the same `key` on one Redis share
 * one send rate, one cut and one hold, so k processes behave as one limiter.
 * In each process one dispatcher hands out slots by priority (`Priority`:
 * the higher class first, fleet-wide through the store, each class in
 * arrival order, no class starved); closing the limiter's scope interrupts
 * every caller still waiting.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AdaptiveRateLimiter, FleetStore } from "effect-retry-layer"
 *
 * declare const call: Effect.Effect<string, Error>
 *
 * const paced = Effect.gen(function*() {
 *   const limiter = yield* AdaptiveRateLimiter.make({ key: "anthropic", initialRate: 5 })
 *   return yield* limiter.apply(call)
 * }).pipe(Effect.scoped, Effect.provide(FleetStore.layerMemory))
 * ```
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import { type DurationInput, locally } from "../internal/compat.js"
import type * as Chat from "./Chat.js"
import * as Deadline from "./Deadline.js"
import * as FleetStore from "./FleetStore.js"
import * as Dispatcher from "./internal/dispatcher.js"
import type { InvalidOptions } from "./internal/invalidOptions.js"
import { validated } from "./internal/invalidOptions.js"
import * as Fields from "./internal/optionFields.js"
import { noTenant } from "./internal/priorityLine.js"
import * as ProviderQuota from "./internal/providerQuota.js"
import * as Retried from "./internal/retried.js"
import * as SendRate from "./internal/sendRate.js"
import { defaultMaxTokens } from "./internal/tokens.js"
import type * as ModelError from "./ModelError.js"
import * as Policy from "./Policy.js"
import * as Priority from "./Priority.js"
import * as RateLimitHeaders from "./RateLimitHeaders.js"
import * as Tenant from "./Tenant.js"

/**
 * The limiter's options, validated: a bad value (`minRate: 0`, `beta: 1`, an
 * unknown key) is an `InvalidOptions` naming the field.
 *
 * | field | default | meaning |
 * | --- | --- | --- |
 * | `key` | `"default"` | limiters with the same key on one store share one rate |
 * | `initialRate` | 50 | requests/s at the start of slow start |
 * | `burst` | 100 | sends allowed at once after a quiet spell (none after a throttle) |
 * | `minRate` | 1 | the rate never goes below this: one send per default base delay, so a lone call's retry does not wait longer than its backoff |
 * | `maxRate` | none | the rate never goes above this |
 * | `beta` | 0.7 | the cut: new rate = beta x delivered rate |
 * | `recovery` | 1 second | time to regrow to the cut rate (or the server's hint, if longer, up to 60 s) |
 * | `maxHold` | 250 millis | longest fleet-wide pause for one `Retry-After` |
 * | `window` | 1 second | how far back the delivered rate is measured |
 * | `rateLimitHeaders` | true | pace on the provider's rate-limit headers and each call's token cost, as well |
 * | `charsPerToken` | 3 | characters of a request per input token, to estimate its input before it is sent (3 errs high for most text, and the turn's usage settles the difference) |
 * | `maxTokens` | 4096 | output tokens reserved for a request that sets no `maxTokens` (what the adapters send) |
 * | `priority` | `"default"` | the priority of calls that set none (`Priority.withPriority`): `"batch"`, `"default"`, `"interactive"` or 0-9 |
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly key: string
  readonly initialRate: number
  readonly burst: number
  readonly minRate: number
  readonly maxRate?: number
  readonly beta: number
  readonly recovery: Duration.Duration
  readonly maxHold: Duration.Duration
  readonly window: Duration.Duration
  readonly rateLimitHeaders: boolean
  readonly charsPerToken: number
  readonly maxTokens: number
  /** The priority's number (see `Priority`). */
  readonly priority: number
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
    readonly initialRate?: number
    readonly burst?: number
    readonly minRate?: number
    readonly maxRate?: number
    readonly beta?: number
    readonly recovery?: DurationInput
    readonly maxHold?: DurationInput
    readonly window?: DurationInput
    readonly rateLimitHeaders?: boolean
    readonly charsPerToken?: number
    readonly maxTokens?: number
    readonly priority?: Priority.Priority
  }
}

/**
 * What the limiter knows, as of the last store answer, for dashboards and tests.
 *
 * @category models
 * @since 0.1.0
 */
export interface State {
  readonly mode: FleetStore.Control["mode"]
  /** Requests per second allowed now. */
  readonly rate: number
  /** The rate at the last cut (0 before the first). */
  readonly lastMaxRate: number
  /** Responses per second the server delivered over the window, fleet-wide. */
  readonly delivered: number
  /** No send before this time (epoch milliseconds; 0 for none). */
  readonly holdUntil: number
  /** Callers of this process waiting for a slot. */
  readonly waiting: number
}

/**
 * A limiter: `apply` paces any acquisition; `state` reads it.
 *
 * @category models
 * @since 0.1.0
 */
export interface AdaptiveRateLimiter extends Policy.Policy {
  readonly key: string
  readonly options: Options
  /**
   * Paces an acquisition of unknown size: a send slot, and one request against the provider's request limit
   * once its headers have told it (tokens are counted only by `applyWithCost` and `applyCall`).
   */
  readonly apply: <A, E, R>(acquire: Effect.Effect<A, E, R>) => Effect.Effect<A, E | ModelError.DeadlineError, R>
  /**
   * Paces one call by its send slot and, once the provider's limits are known from its headers, by its
   * `cost` against the fleet's share of them; `use` gets what was charged and must hand it to `settle`
   * (a finished turn, with its usage) or give it back (`settle(charged)`, a failure). The provider's
   * headers reach the limiter from inside `use` through `RateLimitHeaders.report`, as the adapters send them.
   */
  readonly applyWithCost: <A, E, R>(
    cost: FleetStore.Quota,
    use: (charge: Charge) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | ModelError.DeadlineError, R>
  /**
   * Gives back what a call was charged beyond `used` (all of it when `used` is left out). Only the first
   * settlement of a charge counts: settling again (a give-back after the turn's own settlement) is nothing.
   */
  readonly settle: (charge: Charge, used?: FleetStore.Quota) => Effect.Effect<void>
  readonly state: Effect.Effect<State>
}

/**
 * What one call was charged, and what the fleet thought was left after it
 * (to compare with what the provider says; see `FleetStore.QuotaSighting`).
 *
 * @category models
 * @since 0.1.0
 */
export interface Charge {
  readonly cost: FleetStore.Quota
  readonly charged: FleetStore.Quota
  readonly left: FleetStore.Quota
  /** The fleet's running total of charges after this one (see `FleetStore.QuotaSighting`). */
  readonly counted: FleetStore.Quota
}

// A rate, in requests per second.
const rate = Fields.number({ min: 0, exclusiveMin: true, max: 1e6 })

/**
 * Validates options (options already read pass as they are).
 *
 * @throws InvalidOptions
 * @category options
 * @since 0.1.0
 */
export const options: (input?: Options | Options.Input) => Options = Fields.reader(
  "AdaptiveRateLimiter",
  Fields.struct<Options>({
    key: Fields.withDefault(Fields.string(true), () => "default"),
    initialRate: Fields.withDefault(rate, () => 50),
    burst: Fields.withDefault(Fields.number({ min: 1, max: 1e6, int: true }), () => 100),
    minRate: Fields.withDefault(rate, () => 1),
    maxRate: rate,
    beta: Fields.withDefault(Fields.number({ min: 0, max: 1, exclusiveMin: true, exclusiveMax: true }), () => 0.7),
    recovery: Fields.withDefault(Fields.duration({ finite: true, positive: true }), () => Duration.seconds(1)),
    maxHold: Fields.withDefault(Fields.duration({ finite: true }), () => Duration.millis(250)),
    window: Fields.withDefault(Fields.duration({ finite: true, positive: true }), () => Duration.seconds(1)),
    rateLimitHeaders: Fields.withDefault(Fields.boolean, () => true),
    charsPerToken: Fields.withDefault(Fields.number({ min: 0.5, max: 64 }), () => 3),
    maxTokens: Fields.withDefault(Fields.number({ min: 1, max: 1e7, int: true }), () => defaultMaxTokens),
    priority: Fields.withDefault(Fields.mapping(Priority.level), () => Priority.classes.default)
  }, {
    check: (o) => [
      ...(o.initialRate >= o.minRate
        ? []
        : [{ _tag: "Type", path: ["initialRate"], message: "must not be below minRate" }]),
      ...(o.maxRate === undefined || o.maxRate >= Math.max(o.minRate, o.initialRate)
        ? []
        : [{ _tag: "Type", path: ["maxRate"], message: "must not be below minRate or initialRate" }])
    ]
  })
)

/**
 * A limiter on the `FleetStore` in context; its dispatcher lives as long as the scope.
 *
 * Fails with `InvalidOptions` when `input` is not valid.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (
  input?: Options | Options.Input
): Effect.Effect<AdaptiveRateLimiter, InvalidOptions, FleetStore.FleetStore | Scope.Scope> =>
  validated(() => {
    const settings = options(input)
    const windowMillis = Duration.toMillis(settings.window)
    const window: FleetStore.Window = { bucketMillis: windowMillis / 10, buckets: 10 }
    return Effect.gen(function*() {
      const store = yield* FleetStore.FleetStore
      const quota = ProviderQuota.make(store, settings)
      const rate = SendRate.make(store, settings, window, quota)
      const line = yield* Dispatcher.make(settings, rate, quota, window)

      // What the caller's fiber says of its call: its priority, tenant and deadline, and whether it is a retry.
      const place = Effect.flatMap(Priority.get, (priority) =>
        Effect.flatMap(Tenant.get, (tenant) =>
          Effect.flatMap(Deadline.get, (deadline) =>
            Effect.map(Retried.get, (retry) => ({ priority, tenant, deadline, retry })))))

      const applyWithCost = <A, E, R>(
        cost: FleetStore.Quota,
        use: (charge: Charge) => Effect.Effect<A, E, R>
      ): Effect.Effect<A, E | ModelError.DeadlineError, R> =>
        Effect.uninterruptibleMask((restore) =>
          Effect.flatMap(place, ({ deadline, priority, retry, tenant }) => {
            return Effect.flatMap(
              line.acquire(
                { cost, priority: priority ?? settings.priority, tenant: tenant ?? noTenant, deadline, retry },
                restore
              ),
              ({ charge, grantedAt }) =>
                Effect.flatMap(Clock.currentTimeMillis, (sentAt) => {
                  // One response per call: the first report is its headers (an adapter and a client hook may both
                  // see them; counted twice, a shortfall would be taken twice).
                  let reported = false
                  return restore(
                    locally(use(charge), RateLimitHeaders.currentReporter, (state) => {
                      if (reported) {
                        return Effect.void
                      }
                      reported = true
                      return quota.observe(state, charge)
                    })
                  ).pipe(
                    Effect.onExit((exit) => {
                      if (Exit.isSuccess(exit)) {
                        quota.answered(reported)
                      }
                      return Effect.andThen(
                        rate.outcome(grantedAt, sentAt, exit, quota.blind(charge)),
                        Exit.isFailure(exit) ? quota.settle(charge) : Effect.void
                      )
                    })
                  )
                })
            )
          })
        )

      return {
        key: settings.key,
        options: settings,
        // A call of unknown size still is one request: charged against the provider's request limit (once known)
        // and kept when the acquisition succeeds (settled as used, which also forgets it), given back if it fails.
        apply: <A, E, R>(self: Effect.Effect<A, E, R>) =>
          applyWithCost(oneRequest, (charge) =>
            Effect.tap(self, () =>
              quota.settle(charge, charge.cost))),
        applyWithCost,
        // A call's size is its cost; its settlement, what the turn used (a count the provider left out stays as
        // charged).
        applyCall: <A, E, R>(call: Policy.Call<A, E, R>) =>
          applyWithCost(
            call.size === undefined ? oneRequest : costOf(call.size.chars, call.size.maxTokens, settings),
            (charge) =>
              call.run((usage) =>
                quota.settle(
                  charge,
                  usage === undefined ? undefined : used({
                    inputTokens: usage.inputTokens ?? charge.cost.inputTokens ?? 0,
                    outputTokens: usage.outputTokens ?? charge.cost.outputTokens ?? 0,
                    ...(usage.cacheWriteTokens === undefined ? {} : { cacheWriteTokens: usage.cacheWriteTokens })
                  })
                )
              )
          ),
        settles: true,
        settle: quota.settle,
        state: Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.map(line.waiting, (size) => {
            const control = rate.control()
            return {
              mode: control.mode,
              rate: rate.now(now),
              lastMaxRate: control.wmax,
              delivered: control.delivered,
              holdUntil: control.holdUntil,
              waiting: Math.max(0, size)
            }
          }))
      }
    })
  })

/**
 * What a request will cost the provider's limits, before it is sent: one
 * request, its input tokens estimated from its size (`charsPerToken`), and
 * its `maxTokens` (or the `maxTokens` option) of output.
 *
 * @category costs
 * @since 0.1.0
 */
export const cost = (request: Chat.ChatRequest, settings: Options): FleetStore.Quota =>
  costOf(Policy.requestChars(request), request.maxTokens, settings)

/**
 * What a request of `chars` characters that may produce `maxTokens` of
 * output (the `maxTokens` option when unknown) will cost: the rule of
 * {@link cost}, for a request that is not a `ChatRequest`.
 *
 * @category costs
 * @since 0.1.0
 */
export const costOf = (chars: number, maxTokens: number | undefined, settings: Options): FleetStore.Quota => {
  const input = Math.ceil(chars / settings.charsPerToken)
  const output = maxTokens ?? settings.maxTokens
  return { requests: 1, inputTokens: input, outputTokens: output, tokens: input + output }
}

/**
 * What a finished turn cost, from its usage (cache writes count as input, as
 * providers count them against input limits).
 *
 * @category costs
 * @since 0.1.0
 */
export const used = (usage: Chat.Usage): FleetStore.Quota => {
  const input = usage.inputTokens + (usage.cacheWriteTokens ?? 0)
  return { requests: 1, inputTokens: input, outputTokens: usage.outputTokens, tokens: input + usage.outputTokens }
}

// Internals -------------------------------------------------------------------

const oneRequest: FleetStore.Quota = { requests: 1 }
