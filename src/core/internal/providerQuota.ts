import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import type * as AdaptiveRateLimiter from "../AdaptiveRateLimiter.js"
import type * as FleetStore from "../FleetStore.js"
import type * as RateLimitHeaders from "../RateLimitHeaders.js"
import * as Keys from "./keys.js"
import { dimensions } from "./tokens.js"

/**
 * The limiter's share of the provider's limits, as the fleet knows them from
 * the rate-limit headers: each call's cost is reserved before it is sent and
 * settled (what the turn did not use given back) when it ends; what a
 * response's headers say is compared with the fleet's own count.
 *
 * @internal
 */
export interface ProviderQuota {
  /**
   * One ask to charge `cost`, in the fleet's `order`: what was charged, or the wait. Nothing to ask until the
   * limits are known.
   */
  readonly reserveOnce: (cost: FleetStore.Quota, order: FleetStore.Order) => Effect.Effect<FleetStore.Reservation>
  /** The charge of a reservation that went through. */
  readonly charging: (cost: FleetStore.Quota, reservation: FleetStore.Reservation) => AdaptiveRateLimiter.Charge
  /** Gives back what a charge was beyond `used`; only a charge's first settlement counts. */
  readonly settle: (charge: AdaptiveRateLimiter.Charge, used?: FleetStore.Quota) => Effect.Effect<void>
  /** Whether this process knows the provider's limits (from a response's headers): each call is then charged. */
  readonly limitsKnown: () => boolean
  /** What a response's headers said, for the call of `charge`. */
  readonly observe: (
    state: RateLimitHeaders.RateLimitState,
    charge: AdaptiveRateLimiter.Charge
  ) => Effect.Effect<void>
}

/**
 * A constructor closure, long for that reason only: the sets of calls charged late and the small functions
 * over them.
 *
 * @internal
 */
export const make = (
  store: FleetStore.Service,
  settings: AdaptiveRateLimiter.Options
): ProviderQuota => {
  const key = Keys.quota(settings.key)
  // This process's calls in flight that were sent before the provider's limits were known, and so charged
  // nothing: charged at the first sighting (the provider may count them in it or not; the fleet's budget, which
  // may be older than this process, does not), then settled as any other when they end.
  const uncharged = new Set<AdaptiveRateLimiter.Charge>()
  const late = new Set<AdaptiveRateLimiter.Charge>()
  // Whether this process has seen a provider's limits: until then a call's cost is not even asked about.
  let limitsSeen = false

  const charging = (cost: FleetStore.Quota, reservation: FleetStore.Reservation): AdaptiveRateLimiter.Charge => {
    const charge = { cost, charged: reservation.charged, left: reservation.left, counted: reservation.counted }
    // Only what a sighting may charge later: a cost (every call settles its charge once, `apply`'s on success too).
    if (settings.rateLimitHeaders && Object.keys(reservation.charged).length === 0 && Object.keys(cost).length > 0) {
      uncharged.add(charge)
    }
    return charge
  }

  const reserveOnce = (cost: FleetStore.Quota, order: FleetStore.Order): Effect.Effect<FleetStore.Reservation> =>
    Effect.suspend(() =>
      limitsSeen
        ? Effect.flatMap(Clock.currentTimeMillis, (now) => store.reserve(key, now, cost, order))
        : Effect.succeed(nothing)
    )

  // The one place a charge is settled, once: the first settlement of a charge counts and any later one is
  // nothing, so a call may settle wherever it ends (its turn's last part, a failure, an abandoned stream, an
  // interruption) without counting which came first. Lazy: what is charged late is known only when it runs.
  const settled = new WeakSet<AdaptiveRateLimiter.Charge>()
  const settle = (charge: AdaptiveRateLimiter.Charge, used?: FleetStore.Quota): Effect.Effect<void> =>
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
        : Effect.flatMap(Clock.currentTimeMillis, (now) => store.settle(key, now, delta))
    })

  const observe = (state: RateLimitHeaders.RateLimitState, charge: AdaptiveRateLimiter.Charge) => {
    if (!settings.rateLimitHeaders) return Effect.void
    const seen = sightings(state, charge)
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
      Effect.andThen(
        store.observe(key, now, seen),
        Object.keys(charged).length === 0 ? Effect.void : store.settle(key, now, charged)
      ))
  }

  return { reserveOnce, charging, settle, observe, limitsKnown: () => limitsSeen }
}

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

// What the headers say of each dimension with a limit, beside what the fleet thought was left after the call's
// charge (see `FleetStore.QuotaSighting`).
const sightings = (state: RateLimitHeaders.RateLimitState, charge: AdaptiveRateLimiter.Charge) =>
  Object.fromEntries(
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

const none: FleetStore.Quota = {}
// A reservation that charged nothing: the provider's limits are not known yet.
const nothing: FleetStore.Reservation = { wait: 0, charged: none, left: none, counted: none }
