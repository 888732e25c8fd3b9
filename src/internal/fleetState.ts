/**
 * The fleet's algorithms, written once: each operation is a step from a
 * key's state to its answer and next state. The memory store applies a step
 * to the state it holds; the Redis store applies it to the state it read and
 * writes the result back only if the key has not changed meanwhile (else it
 * reads again and reapplies), so both give the same answers from the same
 * code. A state is plain data (JSON, with `null` for the ring's never-used
 * epochs) and each kind says what a state this library wrote looks like, so a
 * store can refuse one it did not write.
 */
import type {
  BudgetAsk,
  BudgetReply,
  Control,
  Delivery,
  Kind,
  Quota,
  QuotaDimension,
  QuotaSighting,
  Reservation,
  Step,
  Take,
  Throttle,
  Window
} from "../FleetStore.js"
import { dimensions } from "./tokens.js"

export interface Ring {
  readonly epochs: Array<number>
  readonly a: Array<number>
  readonly b: Array<number>
}

export interface LimiterState {
  readonly ring: Ring
  tokens: number
  at: number
  mode: Control["mode"]
  growth: number
  wmax: number
  lastCut: number
  recovery: number
  holdUntil: number
}

export interface QuotaState {
  at: number
  buckets: { [K in QuotaDimension]?: { limit: number; available: number; counted: number } }
}

// Steps --------------------------------------------------------------------------------------------------------

export const budget = (window: Window, now: number, ask: BudgetAsk): Step<Ring, BudgetReply> => (stored) => {
  const ring = stored !== undefined && stored.epochs.length === window.buckets ? stored : newRing(window.buckets)
  if (ask._tag === "FirstAttempt") ringAdd(ring, now, window, ask.count, 0)
  const [firstAttempts, retries] = ringSums(ring, now, window)
  if (ask._tag === "Peek") return [{ granted: 0, firstAttempts, retries }, undefined]
  if (ask._tag === "FirstAttempt") return [{ granted: 0, firstAttempts, retries }, ring]
  const granted = Math.max(0, Math.min(ask.count, Math.floor(ask.ratio * firstAttempts + ask.minimum + 1e-9 - retries)))
  if (granted > 0) ringAdd(ring, now, window, 0, granted)
  return [{ granted, firstAttempts, retries: retries + granted }, ring]
}

export const take = (window: Window, now: number, rate: number, burst: number): Step<LimiterState, Take> =>
(
  stored,
  emptyBuckets
) => {
  const state = limiter(stored, now, window, emptyBuckets ? 0 : burst)
  refill(state, now, rate, burst)
  // Within a microsecond counts as there: a sleep of exactly the wait may refill to 1 - epsilon.
  const wait = state.at - now + (Math.max(0, 1 - state.tokens) * 1000) / rate
  if (wait <= 1e-3) {
    state.tokens -= 1
    ringAdd(state.ring, now, window, 0, 1)
  }
  return [{ wait: wait <= 1e-3 ? 0 : wait, control: controlOf(state, now, window) }, state]
}

export const delivered = (window: Window, now: number, d: Delivery): Step<LimiterState, void> => (stored) => {
  if (stored === undefined || stored.ring.epochs.length !== window.buckets) return [undefined, undefined]
  const state = stored
  ringAdd(state.ring, now, window, d.count, 0)
  if (state.mode === "slow-start") {
    state.growth += d.growth
  } else if (ringSums(state.ring, now, window)[0] / seconds(window) > d.restartAbove * state.wmax) {
    state.mode = "slow-start"
    state.growth = d.restartGrowth
  }
  return [undefined, state]
}

export const throttled = (window: Window, now: number, t: Throttle): Step<LimiterState, Control> =>
(
  stored,
  emptyBuckets
) => {
  const state = limiter(stored, now, window, emptyBuckets ? 0 : t.burst)
  refill(state, now, t.rate, t.burst)
  if (t.sentAt > state.lastCut) {
    state.tokens = Math.min(state.tokens, 0)
    const [delivered, sent] = ringSums(state.ring, now, window)
    state.mode = "cubic"
    state.wmax = Math.max(t.minRate, Math.min(t.rate, (delivered > 0 ? delivered : t.beta * sent) / seconds(window)))
    state.lastCut = now
    state.recovery = t.recovery
    if (t.holdUntil > state.at) state.at = t.holdUntil
    state.holdUntil = Math.max(state.holdUntil, t.holdUntil)
  }
  return [controlOf(state, now, window), state]
}

export const reserve = (now: number, cost: Quota): Step<QuotaState, Reservation> => (stored) => {
  const state = quota(stored, now)
  let wait = 0
  for (const d of dimensions) {
    const bucket = state.buckets[d]
    const amount = cost[d]
    if (bucket === undefined || amount === undefined || amount <= 0) continue
    const need = Math.min(amount, bucket.limit) - bucket.available
    if (need > 0) wait = Math.max(wait, (need * perMinute) / bucket.limit)
  }
  if (wait > 1e-3) return [{ wait, charged: {}, left: {}, counted: {} }, state]
  const charged: { [K in QuotaDimension]?: number } = {}
  const left: { [K in QuotaDimension]?: number } = {}
  const counted: { [K in QuotaDimension]?: number } = {}
  for (const d of dimensions) {
    const bucket = state.buckets[d]
    const amount = cost[d]
    if (bucket === undefined || amount === undefined || amount <= 0) continue
    bucket.available -= amount
    bucket.counted += amount
    charged[d] = amount
    left[d] = bucket.available
    counted[d] = bucket.counted
  }
  return [{ wait: 0, charged, left, counted }, state]
}

export const settle = (now: number, delta: Quota): Step<QuotaState, void> => (stored) => {
  const state = quota(stored, now)
  for (const d of dimensions) {
    const bucket = state.buckets[d]
    const amount = delta[d]
    if (bucket !== undefined && amount !== undefined) {
      bucket.available = Math.min(bucket.limit, bucket.available + amount)
    }
  }
  return [undefined, state]
}

export const observe = (
  now: number,
  seen: { readonly [K in QuotaDimension]?: QuotaSighting }
): Step<QuotaState, void> =>
(stored) => {
  const state = quota(stored, now)
  for (const d of dimensions) {
    const sighting = seen[d]
    if (sighting === undefined) continue
    const { expected, limit, remaining } = sighting
    const bucket = state.buckets[d]
    if (bucket === undefined) {
      state.buckets[d] = { limit, available: Math.min(limit, remaining ?? limit), counted: 0 }
    } else {
      const since = sighting.counted === undefined ? 0 : Math.max(0, bucket.counted - sighting.counted)
      const shortfall = remaining !== undefined && expected !== undefined
        ? Math.min(0, remaining - expected + since)
        : 0
      // A shortfall is a charge the fleet did not know of: counted, so that a sighting of a call charged
      // before it (in flight meanwhile) does not take it again.
      state.buckets[d] = {
        limit,
        available: Math.min(limit, bucket.available + shortfall),
        counted: bucket.counted - shortfall
      }
    }
  }
  return [undefined, state]
}

// Kinds: what a state this library wrote looks like ------------------------------------------------------------

// Far beyond any count, rate or time this library writes, far below where a double loses whole units.
const big = 1e15
const day = 86_400_000

const within = (x: unknown, lo: number, hi: number): x is number =>
  typeof x === "number" && Number.isFinite(x) && x >= lo && x <= hi

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

const decodeRing = (u: unknown): Ring | undefined => {
  if (!isRecord(u)) return undefined
  const { a, b, epochs } = u
  if (!Array.isArray(epochs) || !Array.isArray(a) || !Array.isArray(b)) return undefined
  if (epochs.length === 0 || epochs.length > 1000 || a.length !== epochs.length || b.length !== epochs.length) {
    return undefined
  }
  // JSON has no -Infinity: a bucket never used is written as null.
  const read = epochs.map((e) => e === null ? Number.NEGATIVE_INFINITY : within(e, -big, big) ? e : Number.NaN)
  if (read.some(Number.isNaN) || !a.every((x) => within(x, 0, big)) || !b.every((x) => within(x, 0, big))) {
    return undefined
  }
  return { epochs: read, a: a as Array<number>, b: b as Array<number> }
}

export const budgetKind: Kind<Ring> = { name: "budget", decode: (u) => decodeRing(u) }

export const limiterKind: Kind<LimiterState> = {
  name: "limiter",
  decode: (u, now) => {
    if (!isRecord(u)) return undefined
    const ring = decodeRing(u.ring)
    const ahead = now + day
    if (
      ring === undefined || (u.mode !== "slow-start" && u.mode !== "cubic") || !within(u.tokens, -1, big) ||
      !within(u.at, -1, ahead) || !within(u.growth, 0, big) || !within(u.wmax, 0, big) ||
      !within(u.lastCut, -1, ahead) || !within(u.recovery, 0, big) || !within(u.holdUntil, -1, ahead)
    ) return undefined
    return {
      ring,
      tokens: u.tokens,
      at: u.at,
      mode: u.mode,
      growth: u.growth,
      wmax: u.wmax,
      lastCut: u.lastCut,
      recovery: u.recovery,
      holdUntil: u.holdUntil
    }
  }
}

export const quotaKind: Kind<QuotaState> = {
  name: "quota",
  decode: (u, now) => {
    if (!isRecord(u) || !within(u.at, -1, now + day) || !isRecord(u.buckets)) return undefined
    const buckets: QuotaState["buckets"] = {}
    for (const [d, bucket] of Object.entries(u.buckets)) {
      if (!(dimensions as ReadonlyArray<string>).includes(d) || !isRecord(bucket)) return undefined
      const { available, counted, limit } = bucket
      // What is left of a limit is never above it.
      if (!within(limit, 1e-9, big) || !within(available, -big, limit) || !within(counted, 0, big)) return undefined
      buckets[d as QuotaDimension] = { limit, available, counted }
    }
    return { at: u.at, buckets }
  }
}

// Internals ----------------------------------------------------------------------------------------------------

const perMinute = 60_000

const seconds = (window: Window) => (window.buckets * window.bucketMillis) / 1000

const newRing = (buckets: number): Ring => ({
  epochs: new Array<number>(buckets).fill(Number.NEGATIVE_INFINITY),
  a: new Array<number>(buckets).fill(0),
  b: new Array<number>(buckets).fill(0)
})

const limiter = (stored: LimiterState | undefined, now: number, window: Window, tokens: number): LimiterState =>
  stored !== undefined && stored.ring.epochs.length === window.buckets ? stored : {
    ring: newRing(window.buckets),
    tokens,
    at: now,
    mode: "slow-start",
    growth: 0,
    wmax: 0,
    lastCut: -1,
    recovery: 0,
    holdUntil: 0
  }

// Each known bucket refills at its limit per minute, up to the limit.
const quota = (stored: QuotaState | undefined, now: number): QuotaState => {
  const state = stored ?? { at: now, buckets: {} }
  if (now > state.at) {
    for (const d of dimensions) {
      const bucket = state.buckets[d]
      if (bucket !== undefined) {
        bucket.available = Math.min(bucket.limit, bucket.available + ((now - state.at) * bucket.limit) / perMinute)
      }
    }
    state.at = now
  }
  return state
}

const ringAdd = (ring: Ring, now: number, window: Window, da: number, db: number) => {
  const epoch = Math.floor(now / window.bucketMillis)
  const i = epoch % window.buckets
  if (ring.epochs[i] !== epoch) {
    ring.epochs[i] = epoch
    ring.a[i] = da
    ring.b[i] = db
  } else {
    ring.a[i]! += da
    ring.b[i]! += db
  }
}

const ringSums = (ring: Ring, now: number, window: Window): readonly [number, number] => {
  const epoch = Math.floor(now / window.bucketMillis)
  let a = 0
  let b = 0
  for (let i = 0; i < window.buckets; i++) {
    const e = ring.epochs[i]
    if (e !== undefined && e > epoch - window.buckets && e <= epoch) {
      a += ring.a[i]!
      b += ring.b[i]!
    }
  }
  return [a, b]
}

// The bucket refills at `rate` up to `burst`; `at` ahead of now is a hold, with no refill until it passes.
const refill = (state: LimiterState, now: number, rate: number, burst: number) => {
  if (now > state.at) {
    state.tokens = Math.min(burst, state.tokens + ((now - state.at) * rate) / 1000)
    state.at = now
  }
}

const controlOf = (state: LimiterState, now: number, window: Window): Control => {
  const [delivered, sent] = ringSums(state.ring, now, window)
  return {
    mode: state.mode,
    growth: state.growth,
    wmax: state.wmax,
    lastCut: state.lastCut,
    recovery: state.recovery,
    holdUntil: state.holdUntil,
    delivered: delivered / seconds(window),
    sent: sent / seconds(window)
  }
}
