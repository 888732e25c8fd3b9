// A process's share of the provider's quota while the fleet's store is away, and how it follows the provider's
// count. Seeded at the process's share of the fleet's charges (FleetStore's shareWhileAway); from then on each
// sighting of the provider's count says what the whole key spent since the last one, the process knows what it
// spent itself, and the difference is the rest of the fleet. The share moves toward what the others leave:
// a process whose peers stopped (or were never busy) takes their part back within seconds, and one whose peers
// spend more than their part gives some back, without a word between processes.
import type { Quota, QuotaDimension, QuotaSighting } from "./fleetSteps.js"
import { dimensions } from "./tokens.js"

/** The share, and what it was measured from since the last step. */
export interface AwayShare {
  value: number
  /** The part of the refill the rest of the fleet spent, averaged over about `smoothing`. */
  others: number
  /** When the provider's count was last read, and what it said was left (per dimension, unscaled). */
  at: number
  remaining: { [K in QuotaDimension]?: number }
  /** What this process charged the provider since (its reservations, settlements and blind sends). */
  spent: { [K in QuotaDimension]?: number }
}

export const make = (value: number, now: number): AwayShare => ({
  value,
  others: 1 - value,
  at: now,
  remaining: {},
  spent: {}
})

/** Adds what this process charged (`sign` -1: a settlement's delta, whose refund is a negative charge). */
export const spend = (share: AwayShare, charges: Quota, sign: 1 | -1 = 1): void => {
  for (const d of dimensions) {
    const amount = charges[d]
    if (amount !== undefined) share.spent[d] = (share.spent[d] ?? 0) + sign * amount
  }
}

/**
 * Reads a sighting of the provider's count: at least `step` after the last reading, the share moves toward
 * one minus the largest part of a dimension's refill that the rest of the fleet spent meanwhile. Returns the
 * change of the share (0 when it did not move).
 */
export const sighted = (
  share: AwayShare,
  now: number,
  seen: { readonly [K in QuotaDimension]?: QuotaSighting }
): number => {
  const elapsed = now - share.at
  let others = -1
  for (const d of dimensions) {
    const remaining = seen[d]?.remaining
    const limit = seen[d]?.limit
    // a sighting the headers' reader would not give (no limit, or none above 0) tells nothing of a refill
    if (remaining === undefined || limit === undefined || !(limit > 0)) continue
    const before = share.remaining[d]
    if (before !== undefined && elapsed >= step) {
      const refill = (limit * elapsed) / perMinute
      // What the provider counted meanwhile, less this process's own: the rest of the fleet's part of the refill.
      const fleet = Math.max(0, Math.min(limit, before + refill) - remaining)
      others = Math.max(others, Math.min(1, Math.max(0, fleet - (share.spent[d] ?? 0)) / refill))
    }
  }
  if (others < 0) {
    // too soon after the last reading, or the first: that one is the reference for the next
    if (Object.keys(share.remaining).length === 0) reset(share, now, seen)
    return 0
  }
  reset(share, now, seen)
  share.others += (1 - Math.exp(-elapsed / smoothing)) * (others - share.others)
  const before = share.value
  const target = 1 - share.others
  // Every process moves at once, a step a second: one that reads rarely (a small share sends rarely) takes the
  // steps it missed, so that each moves as fast in time. Up: its part (its share over the fleet's, itself and
  // the others) of half the gap, so that the fleet's sum moves by half its gap whatever the number of processes
  // (half each would overshoot with more than three), and one left alone takes half of it a step. Down:
  // halfway, as each one's target is then its part of what the provider let through, and the sum halves its
  // excess.
  let value = before
  for (let k = Math.min(maxSteps, Math.floor(elapsed / step)); k > 0; k--) {
    value += target > value ? (value / (value + share.others)) * ((target - value) / 2) : (target - value) / 2
  }
  share.value = Math.min(1, Math.max(floor, value))
  return share.value - before
}

// Internals -------------------------------------------------------------------

const perMinute = 60_000
// Readings closer than this are noise: a handful of requests, counted at whole numbers, in any order.
const step = 1_000
// A reading's error is a whole request either way (10% of a second's refill at 600 a minute): averaged.
const smoothing = 2_000
// The steps a reading long after the last may take (its measure is of the whole time: steady or not).
const maxSteps = 8
// A process keeps at least this much of the quota: one in a hundred.
const floor = 0.01

const reset = (share: AwayShare, now: number, seen: { readonly [K in QuotaDimension]?: QuotaSighting }): void => {
  share.at = now
  share.spent = {}
  for (const d of dimensions) {
    const remaining = seen[d]?.remaining
    if (remaining !== undefined) share.remaining[d] = remaining
  }
}
