import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { failureOption, isInterruptedOnly } from "../../internal/compat.js"
import type * as AdaptiveRateLimiter from "../AdaptiveRateLimiter.js"
import type * as FleetStore from "../FleetStore.js"
import * as Retryable from "../Retryable.js"
import * as RetryPolicy from "../RetryPolicy.js"
import { batching } from "./batch.js"
import * as Keys from "./keys.js"
import type { ProviderQuota } from "./providerQuota.js"

/**
 * The limiter's send rate: a token bucket in the store, refilled at the rate
 * the fleet's control allows (slow start, then CUBIC after a cut), which a
 * throttle cuts and deliveries grow. The control is kept as of the store's
 * last answer.
 *
 * @internal
 */
export interface SendRate {
  /**
   * One ask for a token at the rate of now, in the fleet's `order`: the wait until there is one (0: taken), and
   * when it was asked.
   */
  readonly take: (order: FleetStore.Order) => Effect.Effect<{ readonly wait: number; readonly at: number }>
  /**
   * Asks until there is a token, for up to `count()` callers, in the fleet's `order()` (both read at each ask),
   * if there are that many: how many were taken, when they were granted, and for which of the order's `others`
   * if for one of them.
   */
  readonly tokens: (
    count: () => number,
    order: () => FleetStore.Order
  ) => Effect.Effect<{ readonly taken: number; readonly at: number; readonly tenant: string | undefined }>
  /** Sleeps on a store's wait for one bucket of the window at most. */
  readonly pause: (wait: number) => Effect.Effect<void>
  /**
   * Counts a call's outcome: a throttle cuts (dated from the slot's grant), anything else is a delivery. A throttle
   * of a call sent `blind` (before the provider's limits were known) cuts nothing once the provider's request limit
   * is known: the blind start overshot a key smaller than it, and the send bucket, refilled at that limit, paces the
   * retries. A provider that tells token limits only still has the ramp pace its sends, so its throttles cut.
   */
  readonly outcome: (
    grantedAt: number,
    sentAt: number,
    exit: Exit.Exit<unknown, unknown>,
    blind: boolean
  ) => Effect.Effect<void>
  readonly control: () => FleetStore.Control
  /** The rate the bucket refills at now (see `make`: the provider's told limit, if any, replaces slow start's). */
  readonly now: (now: number) => number
  /** The measured time from a send to its answer, in milliseconds (`undefined` before the first answer). */
  readonly latency: () => number | undefined
}

/**
 * A constructor closure, longer than a function should be for that reason only: the control and the round trip
 * it keeps, and the five small functions over them. `quota.requestLimit` is the provider's request limit a minute
 * as its headers told it, if they did: slow start then does not ramp blind from `burst` and `initialRate` but
 * starts at what the provider allows, a minute's worth at once and the limit's pace, as its own bucket does (the
 * provider's quota, charged before each send, keeps the fleet within what is left of it). A throttle still cuts
 * (an overload the headers did not foretell), and CUBIC then paces from the delivered rate as before.
 *
 * @internal
 */
export const make = (
  store: FleetStore.Service,
  settings: AdaptiveRateLimiter.Options,
  window: FleetStore.Window,
  quota: Pick<ProviderQuota, "requestLimit">
): SendRate => {
  const key = Keys.sendBucket(settings.key)
  const recovery = Duration.toMillis(settings.recovery)
  const maxHold = Duration.toMillis(settings.maxHold)
  let control: FleetStore.Control = initialControl
  let roundTrip: number | undefined

  // The bucket's rate and depth now. A user's `maxRate` caps the told pace as it caps any, and keeps its `burst`.
  const bucket = (now: number): { readonly rate: number; readonly burst: number } => {
    const rate = rateAt(settings, control, now)
    const told = control.mode === "slow-start" ? quota.requestLimit() : undefined
    return told === undefined ? { rate, burst: settings.burst } : {
      rate: Math.min(settings.maxRate ?? Number.POSITIVE_INFINITY, Math.max(rate, told / 60)),
      burst: settings.maxRate === undefined ? Math.max(settings.burst, told) : settings.burst
    }
  }

  // The time of the ask is kept: it is when the slot was granted, at the rate of then (see `Slot`).
  const takeUpTo = (count: number, order: FleetStore.Order) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const { burst, rate } = bucket(now)
      return Effect.map(store.take(key, now, window, rate, burst, count, order), (t) => {
        control = t.control
        return { wait: t.wait, taken: t.taken, at: now, tenant: t.tenant }
      })
    })

  // A store's wait is slept on for one bucket of the window at most, then asked again; one that is not a
  // positive number (a bad reply, a store of one's own) counts as a bucket: no answer makes a caller spin or
  // sleep past the next ask.
  const pause = (wait: number) =>
    Effect.sleep(Duration.millis(wait > 0 ? Math.min(wait, window.bucketMillis) : window.bucketMillis))

  // Asks until there is a token, at least every bucket of the window: a cut, a hold or slow start's growth
  // applies from the next ask, not after a wait computed before it.
  const tokens = (
    count: () => number,
    order: () => FleetStore.Order
  ): Effect.Effect<{ readonly taken: number; readonly at: number; readonly tenant: string | undefined }> =>
    Effect.flatMap(
      Effect.suspend(() => takeUpTo(count(), order())),
      (t) => t.wait === 0 ? Effect.succeed(t) : Effect.andThen(pause(t.wait), tokens(count, order))
    )

  // A wave of throttles is one report: the latest send, the longest hint.
  const throttles = batching((batch: ReadonlyArray<{ readonly sentAt: number; readonly hint: number | undefined }>) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const hint = Math.max(0, ...batch.map((t) => t.hint ?? 0))
      const before = control.mode
      const { burst, rate } = bucket(now)
      return store.throttled(key, now, window, {
        sentAt: Math.max(...batch.map((t) => t.sentAt)),
        rate,
        burst,
        beta: settings.beta,
        minRate: settings.minRate,
        recovery: Math.max(recovery, Math.min(hint, maxRecovery)),
        holdUntil: batch.some((t) => t.hint !== undefined) ? now + Math.min(hint, maxHold) : 0
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

  // The round trip runs from the send; a throttle dates from the slot's grant (see `Slot`).
  const outcome = (grantedAt: number, sentAt: number, exit: Exit.Exit<unknown, unknown>, blind: boolean) => {
    if (Exit.isFailure(exit) && isInterruptedOnly(exit.cause)) return Effect.void
    const error = Exit.isFailure(exit) ? failureOption(exit.cause) : Option.none()
    return Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (Option.isSome(error) && RetryPolicy.isThrottling(error.value)) {
        if (blind && quota.requestLimit() !== undefined) return Effect.void
        return throttles({
          sentAt: grantedAt,
          hint: Option.getOrUndefined(Option.map(Retryable.retryAfter(error.value), Duration.toMillis))
        })
      }
      const sample = now - sentAt
      roundTrip = roundTrip === undefined ? sample : roundTrip + (sample - roundTrip) / 8
      // Told the provider's limit, a process does not grow slow start's ramp: the fleet's processes not told yet
      // (sending before their own first answer, uncharged) keep to the blind start, not to a ramp the others grew.
      return Effect.asVoid(deliveries(quota.requestLimit() === undefined ? 1000 / Math.max(roundTrip, 100) : 0))
    })
  }

  return {
    take: (order) => takeUpTo(1, order),
    tokens,
    pause,
    outcome,
    control: () => control,
    now: (now) => bucket(now).rate,
    latency: () => roundTrip
  }
}

/**
 * The rate the control allows at `now`: slow start's grown rate, or after a
 * cut CUBIC's curve through `beta x wmax` at the cut and `wmax` after the
 * recovery; above `wmax` at most twice the delivered rate.
 *
 * @internal
 */
export const rateAt = (settings: AdaptiveRateLimiter.Options, control: FleetStore.Control, now: number): number => {
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

// A hint stretches the recovery up to a minute: past that the curve would keep a fleet below capacity for as long
// as a hint from anywhere (a foreign error's, say) cares to say.
const maxRecovery = 60_000

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
