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
   * One ask to charge `cost`, in the fleet's `order`: what was charged, or the wait. Before this process knows
   * the limits, the fleet may (a reservation then charges, and tells the process); once an answer came without
   * them, the store is not asked until a sighting.
   */
  readonly reserveOnce: (cost: FleetStore.Quota, order: FleetStore.Order) => Effect.Effect<FleetStore.Reservation>
  /** Whether a charge's call was sent before the provider's limits were known (and so charged nothing then). */
  readonly blind: (charge: AdaptiveRateLimiter.Charge) => boolean
  /** The charge of a reservation that went through. */
  readonly charging: (cost: FleetStore.Quota, reservation: FleetStore.Reservation) => AdaptiveRateLimiter.Charge
  /** Gives back what a charge was beyond `used`; only a charge's first settlement counts. */
  readonly settle: (charge: AdaptiveRateLimiter.Charge, used?: FleetStore.Quota) => Effect.Effect<void>
  /**
   * Whether the provider's limits are known, from a response's headers or the fleet's budget (see `reserveOnce`):
   * each call is then charged.
   */
  readonly limitsKnown: () => boolean
  /** The provider's request limit (a minute's worth) as this process or, before its first sighting, the fleet was told. */
  readonly requestLimit: () => number | undefined
  /** A call ended with no rate-limit headers (`reported` false): before any sighting, the provider sends none. */
  readonly answered: (reported: boolean) => void
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
  // Whether this process has seen a provider's limits, or heard from the store that the fleet has (each call's cost
  // is asked about until then, and not at all once an answer came with no headers, `silent`: a provider that
  // sends none does not cost a store operation a call).
  let limitsSeen = false
  let fleetKnown = false
  let silent = false
  let requestLimit: number | undefined
  let fleetLimit: number | undefined

  const charging = (cost: FleetStore.Quota, reservation: FleetStore.Reservation): AdaptiveRateLimiter.Charge => {
    const charge = { cost, charged: reservation.charged, left: reservation.left, counted: reservation.counted }
    // Only what a sighting may charge later: a cost (every call settles its charge once, `apply`'s on success too).
    if (settings.rateLimitHeaders && empty(reservation.charged) && !empty(cost)) {
      uncharged.add(charge)
    }
    return charge
  }

  const reserveOnce = (cost: FleetStore.Quota, order: FleetStore.Order): Effect.Effect<FleetStore.Reservation> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      if (limitsSeen || fleetKnown) return store.reserve(key, now, cost, order)
      if (silent || !settings.rateLimitHeaders) return Effect.succeed(nothing)
      return Effect.map(store.reserve(key, now, cost, order), (reservation) => {
        if (reservation.requestLimit !== undefined || reservation.wait > 0 || !empty(reservation.charged)) {
          fleetKnown = true
          fleetLimit = reservation.requestLimit
        }
        return reservation
      })
    })

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
    silent = false
    requestLimit = seen.requests?.limit ?? requestLimit
    // This process's calls sent before it knew the limits were charged nothing: they are charged now, in the same
    // step, to the budget this sighting sets (less what the provider already counted of them) or to the one the
    // fleet keeps; each is settled as a charge of its whole cost when it ends.
    const blind: { [K in FleetStore.QuotaDimension]?: number } = {}
    if (firstSighting) {
      for (const charge of uncharged) {
        late.add(charge)
        for (const d of dimensions) {
          if (charge.cost[d] !== undefined) blind[d] = (blind[d] ?? 0) + charge.cost[d]!
        }
      }
      uncharged.clear()
    }
    return Effect.flatMap(
      Clock.currentTimeMillis,
      (now) => store.observe(key, now, seen, empty(blind) ? undefined : blind)
    )
  }

  return {
    reserveOnce,
    blind: (charge) => uncharged.has(charge) || late.has(charge),
    charging,
    settle,
    observe,
    limitsKnown: () => limitsSeen || fleetKnown,
    requestLimit: () => requestLimit ?? fleetLimit,
    answered: (reported) => {
      if (!reported && !limitsSeen) silent = true
    }
  }
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
const empty = (quota: FleetStore.Quota) => Object.keys(quota).length === 0
// A reservation that charged nothing: the provider's limits are not known yet.
const nothing: FleetStore.Reservation = { wait: 0, charged: none, left: none, counted: none }
