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
 *
 * The bucket, the delivered count and the rate control live in the
 * `FleetStore` in context: processes with the same `key` on one Redis share
 * one send rate, one cut and one hold, so k processes behave as one limiter.
 * In each process one dispatcher hands out slots in arrival order; closing
 * the limiter's scope interrupts every caller still waiting.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { AdaptiveRateLimiter, FleetStore, RetryingModel } from "effect-retry-layer"
 *
 * const Paced = RetryingModel.layer({ maxAttempts: 10 }).pipe(
 *   Layer.provide(AdaptiveRateLimiter.layer({ key: "anthropic", initialRate: 5 })),
 *   Layer.provide(FleetStore.layerMemory)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as CompletionModel from "./CompletionModel.js"
import * as FleetStore from "./FleetStore.js"
import { batching } from "./internal/batch.js"
import * as Options_ from "./internal/schema.js"
import { defaultMaxTokens, dimensions } from "./internal/tokens.js"
import * as RateLimitHeaders from "./RateLimitHeaders.js"
import * as Retryable from "./Retryable.js"
import * as RetrySchedule from "./RetrySchedule.js"

const Rate = Options_.number({ min: 0, exclusiveMin: true, max: 1e6 })

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
 *
 * @since 0.2.0
 */
export class Options extends Schema.Class<Options>("AdaptiveRateLimiter.Options")(
  Schema.Struct({
    key: Options_.withDefault(Schema.NonEmptyString, () => "default"),
    initialRate: Options_.withDefault(Rate, () => 50),
    burst: Options_.withDefault(Options_.number({ min: 1, max: 1e6, int: true }), () => 100),
    minRate: Options_.withDefault(Rate, () => 1),
    maxRate: Schema.optionalWith(Rate, { exact: true }),
    beta: Options_.withDefault(Options_.number({ min: 0, max: 1, exclusiveMin: true, exclusiveMax: true }), () => 0.7),
    recovery: Options_.withDefault(Options_.PositiveFiniteDuration, () => Duration.seconds(1)),
    maxHold: Options_.withDefault(Options_.FiniteDuration, () => Duration.millis(250)),
    window: Options_.withDefault(Options_.PositiveFiniteDuration, () => Duration.seconds(1)),
    rateLimitHeaders: Options_.withDefault(Schema.Boolean, () => true),
    charsPerToken: Options_.withDefault(Options_.number({ min: 0.5, max: 64 }), () => 3),
    maxTokens: Options_.withDefault(Options_.number({ min: 1, max: 1e7, int: true }), () => defaultMaxTokens)
  }).pipe(
    Schema.filter((o) => [
      ...(o.initialRate >= o.minRate ? [] : [{ path: ["initialRate"], message: "must not be below minRate" }]),
      ...(o.maxRate === undefined || o.maxRate >= Math.max(o.minRate, o.initialRate)
        ? []
        : [{ path: ["maxRate"], message: "must not be below minRate or initialRate" }])
    ])
  )
) {}

/**
 * @since 0.2.0
 */
export declare namespace Options {
  /** What {@link make} and {@link layer} accept. */
  export type Input = Schema.Schema.Encoded<typeof Options>
}

/**
 * What the limiter knows, as of the last store answer, for dashboards and tests.
 *
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
 * @since 0.2.0
 */
export interface AdaptiveRateLimiter {
  readonly key: string
  readonly options: Options
  readonly apply: <A, E, R>(acquire: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /**
   * Paces one call by its send slot and, once the provider's limits are known from its headers, by its
   * `cost` against the fleet's share of them; `use` gets what was charged and must hand it to `settle`
   * (a finished turn, with its usage) or give it back (`settle(charged)`, a failure). The provider's
   * headers reach the limiter from inside `use` through `RateLimitHeaders.report`, as the adapters send them.
   */
  readonly applyWithCost: <A, E, R>(
    cost: FleetStore.Quota,
    use: (charge: Charge) => Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E, R>
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
 * @since 0.3.0
 */
export interface Charge {
  readonly cost: FleetStore.Quota
  readonly charged: FleetStore.Quota
  readonly left: FleetStore.Quota
  /** The fleet's running total of charges after this one (see `FleetStore.QuotaSighting`). */
  readonly counted: FleetStore.Quota
}

/**
 * Validates options (an instance passes as is).
 *
 * @throws InvalidOptions
 * @since 0.2.0
 */
export const options: (input?: Options | Options.Input) => Options = Options_.options(Options, "AdaptiveRateLimiter")

/**
 * A limiter on the `FleetStore` in context; its dispatcher lives as long as the scope.
 *
 * @throws InvalidOptions when `input` is not valid (when called, not when run)
 * @since 0.2.0
 */
export const make = (
  input?: Options | Options.Input
): Effect.Effect<AdaptiveRateLimiter, never, FleetStore.FleetStore | Scope.Scope> => {
  const settings = options(input)
  const key = `limiter:${settings.key}`
  const quotaKey = `quota:${settings.key}`
  // The longest the others wait for the first call's answer before going on in slow start (a stalled first request
  // must not stop a process).
  const maxProbe = Duration.seconds(2)
  const windowMillis = Duration.toMillis(settings.window)
  const window: FleetStore.Window = { bucketMillis: windowMillis / 10, buckets: 10 }
  const recovery = Duration.toMillis(settings.recovery)
  const maxHold = Duration.toMillis(settings.maxHold)
  // A hint stretches the recovery up to a minute: past that the curve would keep a fleet below capacity for
  // as long as a hint from anywhere (a foreign error's, say) cares to say.
  const maxRecovery = 60_000
  return Effect.gen(function*() {
    const store = yield* FleetStore.FleetStore
    const waiting = yield* Queue.unbounded<Waiter>()
    // This process's calls in flight that were sent before the provider's limits were known, and so charged
    // nothing: charged at the first sighting (the provider may count them in it or not; the fleet's budget, which
    // may be older than this process, does not), then settled as any other when they end.
    const uncharged = new Set<Charge>()
    const late = new Set<Charge>()
    const charging = (cost: FleetStore.Quota, reservation: Omit<FleetStore.Reservation, "wait">): Charge => {
      const charge = { cost, charged: reservation.charged, left: reservation.left, counted: reservation.counted }
      // Only what a sighting may charge later: a cost (`apply` has none, and is never settled on success).
      if (settings.rateLimitHeaders && Object.keys(reservation.charged).length === 0 && Object.keys(cost).length > 0) {
        uncharged.add(charge)
      }
      return charge
    }
    // Per process: the control as of the last store answer, the waiter holding the reservation, the round trip.
    let control: FleetStore.Control = initialControl
    let current: Waiter | undefined
    let roundTrip: number | undefined
    let closed = false
    // Whether this process has seen a provider's limits: until then a call's cost is not even asked about.
    let limitsSeen = false
    // Whether a first call has been answered (or given up on); while one is out alone, the others wait for it.
    let answered = !settings.rateLimitHeaders
    let probing = false
    const first = yield* Deferred.make<void>()
    const answer = Effect.suspend(() => {
      answered = true
      return Deferred.succeed(first, undefined)
    })
    // Given up on after `maxProbe`: from then on nobody waits for it.
    const firstAnswer = Effect.suspend(() =>
      answered ? Effect.void : Effect.zipRight(Effect.ignore(Effect.timeout(Deferred.await(first), maxProbe)), answer)
    )

    // One ask for a token at the rate of now; the wait until there is one (0: taken). Keeps the store's control.
    // The time of the ask is kept: it is when the slot was granted, at the rate of then (see `Slot`).
    const take = Effect.flatMap(
      Clock.currentTimeMillis,
      (now) =>
        Effect.map(store.take(key, now, window, rateAt(settings, control, now), settings.burst), (t) => {
          control = t.control
          return { wait: t.wait, at: now }
        })
    )

    // A store's wait is slept on for one bucket of the window at most, then asked again; one that is not a
    // positive number (a bad reply, a store of one's own) counts as a bucket: no answer makes a caller spin or
    // sleep past the next ask.
    const pause = (wait: number) =>
      Effect.sleep(Duration.millis(wait > 0 ? Math.min(wait, window.bucketMillis) : window.bucketMillis))

    // Asks until there is a token, at least every bucket of the window: a cut, a hold or slow start's growth
    // applies from the next ask, not after a wait computed before it.
    const token: Effect.Effect<number> = Effect.flatMap(
      take,
      ({ at, wait }) => wait === 0 ? Effect.succeed(at) : Effect.zipRight(pause(wait), token)
    )

    // One ask to charge a call's cost to the provider's budget: what was charged, or the wait. Until a provider's
    // limits are known there is nothing to charge, and no store to ask.
    const reserveOnce = (cost: FleetStore.Quota): Effect.Effect<FleetStore.Reservation> =>
      Effect.suspend(() =>
        limitsSeen
          ? Effect.flatMap(Clock.currentTimeMillis, (now) => store.reserve(quotaKey, now, cost))
          : Effect.succeed(nothing)
      )
    const reserve = (cost: FleetStore.Quota): Effect.Effect<Charge> =>
      Effect.flatMap(
        reserveOnce(cost),
        (r) => r.wait === 0 ? Effect.sync(() => charging(cost, r)) : Effect.zipRight(pause(r.wait), reserve(cost))
      )

    // The one place a charge is settled, once: the first settlement of a charge counts and any later one is
    // nothing, so a call may settle wherever it ends (its turn's last part, a failure, an abandoned stream, an
    // interruption) without counting which came first. Lazy: what is charged late is known only when it runs.
    const settled = new WeakSet<Charge>()
    const settle = (charge: Charge, used?: FleetStore.Quota): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (settled.has(charge)) return Effect.void
        settled.add(charge)
        uncharged.delete(charge)
        const charged = late.delete(charge) ? charge.cost : charge.charged
        const delta = Object.fromEntries(
          Object.entries(charged).flatMap(([d, amount]) => {
            const back = amount - (used?.[d as FleetStore.QuotaDimension] ?? 0)
            return back === 0 ? [] : [[d, back]]
          })
        )
        return Object.keys(delta).length === 0
          ? Effect.void
          : Effect.flatMap(Clock.currentTimeMillis, (now) => store.settle(quotaKey, now, delta))
      })

    const observeHeaders = (state: RateLimitHeaders.RateLimitState, charge: Charge): Effect.Effect<void> => {
      if (!settings.rateLimitHeaders) return Effect.void
      const seen = Object.fromEntries(
        dimensions.flatMap((d): Array<[string, FleetStore.QuotaSighting]> => {
          const dimension = state[d]
          if (dimension?.limit === undefined || dimension.limit === 0) return []
          const { limit, remaining } = dimension
          const expected = charge.left[d]
          return [[
            d,
            expected !== undefined ? { limit, remaining, expected, counted: charge.counted[d] } : { limit, remaining }
          ]]
        })
      )
      if (Object.keys(seen).length === 0) return Effect.void
      const firstSighting = !limitsSeen
      limitsSeen = true
      // This process's calls sent before it knew the limits were charged nothing: they are charged now, to the
      // budget this sighting set, or to the one another process of the fleet set before.
      const charged: { [K in FleetStore.QuotaDimension]?: number } = {}
      if (firstSighting) {
        for (const charge of uncharged) {
          late.add(charge)
          for (const d of dimensions) {
            if (charge.cost[d] !== undefined) charged[d] = (charged[d] ?? 0) - charge.cost[d]!
          }
        }
        uncharged.clear()
      }
      return Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.zipRight(
          store.observe(quotaKey, now, seen),
          Object.keys(charged).length === 0 ? Effect.void : store.settle(quotaKey, now, charged)
        ))
    }

    // A send slot, held, goes to the first caller still waiting, charged with that caller's cost: if the one it
    // was taken for gave up meanwhile, its charge goes back and the next in line is served.
    const serve = (waiter: Waiter, grantedAt: number): Effect.Effect<void> =>
      Effect.flatMap(
        reserve(waiter.cost),
        (charge) =>
          Effect.flatMap(Deferred.succeed(waiter.deferred, { charge, grantedAt }), (delivered) => {
            if (delivered) return Effect.void
            return Effect.zipRight(
              settle(charge),
              Effect.flatMap(Queue.take(waiting), (next) => {
                current = next
                return serve(next, grantedAt)
              })
            )
          })
      )

    const dispatch = Effect.flatMap(
      Queue.take(waiting),
      (waiter) =>
        Effect.flatMap(Deferred.isDone(waiter.deferred), (gone) => {
          if (gone) return Effect.void
          current = waiter
          return Effect.flatMap(
            Effect.zipRight(firstAnswer, token),
            (grantedAt) =>
              Effect.suspend(() => serve(current ?? waiter, grantedAt)).pipe(
                Effect.ensuring(Effect.sync(() => (current = undefined)))
              )
          )
        })
    )

    // Runs after the dispatcher is interrupted (finalizers run in reverse): nobody is left waiting.
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closed = true
        const left = yield* Queue.takeAll(waiting)
        for (const waiter of [...(current === undefined ? [] : [current]), ...left]) {
          yield* Deferred.interrupt(waiter.deferred)
        }
        yield* Queue.shutdown(waiting)
      })
    )
    yield* Effect.forkScoped(Effect.forever(dispatch))

    // In line for the dispatcher. A caller interrupted just as it was served gives its charge back.
    const wait = (cost: FleetStore.Quota) =>
      Effect.flatMap(Deferred.make<Slot>(), (deferred) =>
        Queue.offer(waiting, { deferred, cost }).pipe(
          Effect.zipRight(Deferred.await(deferred)),
          Effect.onInterrupt(() =>
            Effect.flatMap(Deferred.interrupt(deferred), (interrupted) =>
              interrupted ?
                Effect.void :
                Effect.flatMap(Effect.exit(Deferred.await(deferred)), (exit) =>
                  Exit.isSuccess(exit) ? settle(exit.value.charge) : Effect.void))
          )
        ))

    // With nobody waiting, a caller takes its slot (and charges its cost) itself, without a hand-over through the
    // dispatcher; it queues only when there is no room, or others are already in line (who must go first).
    // Called uninterruptibly; `restore` makes the queueing interruptible.
    const acquire = (
      cost: FleetStore.Quota,
      restore: <X, Y, Z>(e: Effect.Effect<X, Y, Z>) => Effect.Effect<X, Y, Z>,
      probe: boolean
    ) =>
      Effect.suspend((): Effect.Effect<Slot> => {
        if (closed) return Effect.interrupt
        const queued = current !== undefined || waiting.unsafeSize().pipe(Option.getOrElse(() => 0)) > 0
        if (queued || (!answered && !probe)) return restore(wait(cost))
        return Effect.flatMap(reserveOnce(cost), (r) =>
          r.wait > 0 ? restore(wait(cost)) : Effect.flatMap(take, ({ at, wait: untilToken }) => {
            const charge = charging(cost, r)
            return untilToken === 0
              ? Effect.succeed({ charge, grantedAt: at })
              : Effect.zipRight(settle(charge), restore(wait(cost)))
          }))
      })

    // A wave of throttles is one report: the latest send, the longest hint.
    const throttles = batching((batch: ReadonlyArray<{ readonly sentAt: number; readonly hint: number | undefined }>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const sentAt = Math.max(...batch.map((t) => t.sentAt))
        const hint = Math.max(0, ...batch.map((t) => t.hint ?? 0))
        const hinted = batch.some((t) => t.hint !== undefined)
        const before = control.mode
        return store.throttled(key, now, window, {
          sentAt,
          rate: rateAt(settings, control, now),
          burst: settings.burst,
          beta: settings.beta,
          minRate: settings.minRate,
          recovery: Math.max(recovery, Math.min(hint, maxRecovery)),
          holdUntil: hinted ? now + Math.min(hint, maxHold) : 0
        }).pipe(
          Effect.tap((next) => {
            control = next
            return before === "slow-start" && next.mode === "cubic"
              ? Effect.logInfo(
                `adaptive rate limiter ${settings.key}: throttled; pacing at ${
                  rateAt(settings, next, now).toFixed(1)
                } requests/s`
              )
              : Effect.void
          }),
          Effect.as(batch)
        )
      })
    )

    // Slow start adds one round trip's worth of rate per response: about a doubling per round trip. Once the
    // fleet delivers half as much again as the last cut rate, that capacity is gone: slow start from here.
    const deliveries = batching((batch: ReadonlyArray<number>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.as(
          store.delivered(key, now, window, {
            count: batch.length,
            growth: batch.reduce((sum, growth) => sum + growth, 0),
            restartAbove: 1.5,
            restartGrowth: Math.max(rateAt(settings, control, now), control.delivered) - settings.initialRate
          }),
          batch
        ))
    )
    const delivered = (now: number, sentAt: number) => {
      const sample = now - sentAt
      roundTrip = roundTrip === undefined ? sample : roundTrip + (sample - roundTrip) / 8
      return Effect.asVoid(deliveries(1000 / Math.max(roundTrip, 100)))
    }

    // The round trip runs from the send; a throttle dates from the slot's grant (see `Slot`).
    const observe = (grantedAt: number, sentAt: number) => (exit: Exit.Exit<unknown, unknown>) => {
      if (Exit.isFailure(exit) && Cause.isInterruptedOnly(exit.cause)) return Effect.void
      const error = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
      return Effect.flatMap(
        Clock.currentTimeMillis,
        (now) =>
          Option.isSome(error) && RetrySchedule.isThrottling(error.value)
            ? throttles({
              sentAt: grantedAt,
              hint: Option.getOrUndefined(Option.map(Retryable.retryAfter(error.value), Duration.toMillis))
            })
            : delivered(now, sentAt)
      )
    }

    const applyWithCost = <A, E, R>(
      cost: FleetStore.Quota,
      use: (charge: Charge) => Effect.Effect<A, E, R>
    ): Effect.Effect<A, E, R> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend(() => {
          // Until a first answer has told the process the provider's limits, one call goes alone.
          const probe = settings.rateLimitHeaders && !answered && !probing
          if (probe) probing = true
          const call = Effect.flatMap(acquire(cost, restore, probe), ({ charge, grantedAt }) =>
            Effect.flatMap(Clock.currentTimeMillis, (sentAt) =>
              restore(Effect.suspend(() => {
                // One response per call: the first report is its headers (an adapter and a client hook may both
                // see them; counted twice, a shortfall would be taken twice).
                let reported = false
                return Effect.locally(use(charge), RateLimitHeaders.currentReporter, (state) => {
                  if (reported) return Effect.void
                  reported = true
                  return observeHeaders(state, charge)
                })
              })).pipe(
                Effect.onExit((exit) =>
                  Effect.zipRight(observe(grantedAt, sentAt)(exit), Exit.isFailure(exit) ? settle(charge) : Effect.void)
                )
              )))
          return probe ? Effect.ensuring(call, answer) : call
        })
      )

    return {
      key: settings.key,
      options: settings,
      apply: <A, E, R>(self: Effect.Effect<A, E, R>) => applyWithCost(none, () => self),
      applyWithCost,
      settle,
      state: Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.map(Queue.size(waiting), (size) => ({
          mode: control.mode,
          rate: rateAt(settings, control, now),
          lastMaxRate: control.wmax,
          delivered: control.delivered,
          holdUntil: control.holdUntil,
          waiting: Math.max(0, size)
        })))
    }
  })
}

/**
 * Decorates whatever `CompletionModel` the layer is provided with.
 *
 * @throws InvalidOptions when `input` is not valid
 * @since 0.1.0
 */
export const layer = (
  input?: Options | Options.Input
): Layer.Layer<CompletionModel.CompletionModel, never, CompletionModel.CompletionModel | FleetStore.FleetStore> => {
  const settings = options(input)
  return Layer.scoped(
    CompletionModel.CompletionModel,
    Effect.flatMap(CompletionModel.CompletionModel, decorate(settings))
  )
}

/**
 * `inner` behind a limiter of its own, whose dispatcher lives as long as the scope.
 *
 * @throws InvalidOptions when `input` is not valid
 * @since 0.2.0
 */
export const decorate = (input?: Options | Options.Input) => {
  const settings = options(input)
  return (
    inner: CompletionModel.Service
  ): Effect.Effect<CompletionModel.Service, never, FleetStore.FleetStore | Scope.Scope> =>
    Effect.map(make(settings), (limiter) => paced(inner, limiter))
}

/**
 * What a request will cost the provider's limits, before it is sent: one
 * request, its input tokens estimated from its size (`charsPerToken`), and
 * its `maxTokens` (or the `maxTokens` option) of output.
 *
 * @since 0.3.0
 */
export const cost = (request: CompletionModel.ChatRequest, settings: Options): FleetStore.Quota =>
  costOf(requestChars(request), request.maxTokens, settings)

/**
 * What a request of `chars` characters that may produce `maxTokens` of
 * output (the `maxTokens` option when unknown) will cost: the rule of
 * {@link cost}, for a request that is not a `ChatRequest`.
 *
 * @since 0.3.0
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
 * @since 0.3.0
 */
export const used = (usage: CompletionModel.Usage): FleetStore.Quota => {
  const input = usage.inputTokens + (usage.cacheWriteTokens ?? 0)
  return { requests: 1, inputTokens: input, outputTokens: usage.outputTokens, tokens: input + usage.outputTokens }
}

// Internals -------------------------------------------------------------------

interface Waiter {
  readonly deferred: Deferred.Deferred<Slot>
  readonly cost: FleetStore.Quota
}

/**
 * A send slot and its charge. `grantedAt` is when the store granted the slot, at the rate it knew then: a
 * throttle is compared with the last cut by it, not by when the caller got round to sending (a store round trip
 * and a wake-up later), which stamped requests admitted before a cut as sent after it and cut the rate twice.
 */
interface Slot {
  readonly charge: Charge
  readonly grantedAt: number
}

const none: FleetStore.Quota = {}
// A reservation that charged nothing: the provider's limits are not known yet.
const nothing: FleetStore.Reservation = { wait: 0, charged: none, left: none, counted: none }

// Each call paced by its cost, its response's headers reported as they arrive (`RateLimitHeaders.report`); the
// turn's usage settles the charge; a stream that ends (fails, is abandoned) before its turn finishes gives the
// whole charge back.
const paced = (inner: CompletionModel.Service, limiter: AdaptiveRateLimiter): CompletionModel.Service => ({
  name: inner.name,
  model: inner.model,
  chatStream: (request) =>
    limiter.applyWithCost(
      cost(request, limiter.options),
      (charge) =>
        Effect.map(inner.chatStream(request), (stream) =>
          settleOnce(
            stream,
            (chunk) => chunk._tag === "TurnFinished" ? limiter.settle(charge, used(chunk.usage)) : undefined,
            limiter.settle(charge)
          ))
    )
})

/**
 * `stream` settling a charge: with what `finished` gives for the part that
 * ends the turn (`undefined` for any other), and with `giveBack` when the
 * stream ends whichever way (finished, failed, abandoned). The limiter's
 * `settle` counts only the first settlement of a charge, so after a finished
 * turn the give-back is nothing.
 *
 * @internal
 */
export const settleOnce = <A, E, R>(
  stream: Stream.Stream<A, E, R>,
  finished: (part: A) => Effect.Effect<void> | undefined,
  giveBack: Effect.Effect<void>
): Stream.Stream<A, E, R> =>
  stream.pipe(
    Stream.tap((part) => finished(part) ?? Effect.void),
    Stream.ensuring(giveBack)
  )

// A request's size in characters: the text the model reads, tool definitions and arguments included; an image
// counts as what a large one costs (about 1,600 tokens at Anthropic's rate).
const requestChars = (request: CompletionModel.ChatRequest): number => {
  const image = 1600 * 3
  const blocks = (content: CompletionModel.Message["content"] | CompletionModel.ContentBlock): number => {
    if (typeof content === "string") return content.length
    if (Array.isArray(content)) {
      return (content as ReadonlyArray<CompletionModel.ContentBlock>).reduce((n, b) => n + blocks(b), 0)
    }
    const block = content as CompletionModel.ContentBlock
    switch (block.type) {
      case "text":
        return block.text.length
      case "image":
        return image
      case "tool_use":
        return block.name.length + (JSON.stringify(block.input) ?? "").length
      case "tool_result":
        return blocks(block.content as CompletionModel.Message["content"])
      case "thinking":
        return block.thinking.length
      case "redacted_thinking":
        return block.data.length
    }
  }
  return (request.system?.length ?? 0) +
    request.messages.reduce((n, message) => n + blocks(message.content), 0) +
    (request.tools === undefined ? 0 : JSON.stringify(request.tools).length)
}

// The rate --------------------------------------------------------------------

const initialControl: FleetStore.Control = {
  mode: "slow-start",
  growth: 0,
  wmax: 0,
  lastCut: -1,
  recovery: 0,
  holdUntil: 0,
  delivered: 0,
  sent: 0
}

/**
 * The rate the control allows at `now`: slow start's grown rate, or after a
 * cut CUBIC's curve through `beta x wmax` at the cut and `wmax` after the
 * recovery; above `wmax` at most twice the delivered rate.
 *
 * @internal
 */
export const rateAt = (settings: Options, control: FleetStore.Control, now: number): number => {
  let rate: number
  if (control.mode === "slow-start") {
    rate = settings.initialRate + control.growth
  } else {
    const k = Math.max(control.recovery, 1)
    const x = (now - control.lastCut - k) / k
    const curve = control.wmax * (1 + (1 - settings.beta) * x * x * x)
    // Above the last measured capacity only with recent evidence: after an idle spell or a hold, wmax, not more.
    rate = Math.min(curve, Math.max(control.wmax, 2 * control.delivered))
  }
  return Math.min(settings.maxRate ?? Number.POSITIVE_INFINITY, Math.max(settings.minRate, rate))
}
