/**
 * The fleet store's algorithms, written once: each operation is a pure step over one key's state, which the
 * memory store (`FleetStore.makeMemory`) calls as it is and `FleetStoreRedis` runs inside Redis as Lua
 * generated from this file by TypeScriptToLua (`npm run lua` writes `fleetSteps.lua.ts`; a test fails when it
 * is stale). The Redis side adds only what is Redis's: reading and writing the state (one JSON value per key),
 * the reset of a key this library did not write, the expiry.
 *
 * Written in what JavaScript and Lua 5.1 run alike: numbers, strings, plain records and arrays, loops,
 * `Math.floor` / `min` / `max`; never the truth of a number (0 is true in Lua), `undefined` only as a missing
 * field, no spread. A step mutates the state it is given and returns the state to write (`undefined`: write
 * nothing) and its reply.
 */

/**
 * The dimensions of a provider's limit (requests, all tokens, input tokens, output tokens), in the order
 * everything goes through them: the header reader, the fleet's quota and the limiter's charges. (Here so that
 * the generated Lua has them; `internal/tokens` re-exports them.)
 */
export const dimensions = ["requests", "tokens", "inputTokens", "outputTokens"] as const

export type Dimension = typeof dimensions[number]

/** The highest priority a call may have (the lowest is 0; see `Priority`). */
export const highestPriority = 9

/**
 * While a class has calls waiting, at least one send in this many goes to it, however much higher-priority
 * work there is (see `Priority`).
 */
export const starvationBound = 10

/** The most tenants a key's order keeps (the longest idle is forgotten first). */
export const maxTenants = 32

/**
 * An ask's place in the fleet's order: the asking caller's priority (default 1, see `Priority`), and its tenant
 * with the tenant's weight (default 1, see `Tenant`; an ask that names no tenant takes no part in the tenants'
 * shares). While a higher class waits anywhere in the fleet a lower one is held back (but for its turn in
 * `starvationBound`); within a class, a tenant that had more than its share while another waits is held back.
 * `others`: the asker's other tenants waiting in the same class (at most `maxTenants`), in its own order: a send
 * slot held back for `tenant` goes to the first of them whose turn it is (`Take.tenant`), and each counts as
 * waiting in the fleet, so that a process's other tenants are not kept waiting behind the one it asks for first.
 *
 * @category models
 * @since 0.1.0
 */
export interface Order {
  readonly priority?: number
  readonly tenant?: string
  readonly weight?: number
  readonly others?: ReadonlyArray<{ readonly tenant: string; readonly weight?: number }>
}

/**
 * A window of counters in `buckets` buckets of `bucketMillis` each.
 *
 * @category models
 * @since 0.1.0
 */
export interface Window {
  readonly bucketMillis: number
  readonly buckets: number
}

/**
 * What the retry budget asks: to record `count` first attempts, to spend up
 * to `count` retries while retries in the window stay within `ratio` x first
 * attempts + `minimum`, or only to read the window. Counts let a process send
 * what its concurrent callers asked as one operation.
 *
 * @category models
 * @since 0.1.0
 */
export type BudgetAsk =
  | { readonly _tag: "FirstAttempt"; readonly count: number }
  | { readonly _tag: "Peek" }
  | { readonly _tag: "Retry"; readonly count: number; readonly ratio: number; readonly minimum: number }

/**
 * @category models
 * @since 0.1.0
 */
export interface BudgetReply {
  /** Retries granted (of `count`); 0 for the other asks. */
  readonly granted: number
  /** First attempts in the window. */
  readonly firstAttempts: number
  /** Retries in the window, these included. */
  readonly retries: number
}

/**
 * The limiter's shared rate control. The rate itself is computed from it by
 * each process (`AdaptiveRateLimiter`), so the curve is written once.
 *
 * @category models
 * @since 0.1.0
 */
export interface Control {
  readonly mode: "slow-start" | "cubic"
  /** Slow start: requests per second added to the initial rate so far. */
  readonly growth: number
  /** Cubic: the rate at the last cut (the fleet's last measured capacity). */
  readonly wmax: number
  /** When the last cut happened, in epoch milliseconds (-1: never). */
  readonly lastCut: number
  /** Milliseconds the rate takes to regrow to `wmax` after the cut. */
  readonly recovery: number
  /** No send before this time (a server's Retry-After), in epoch milliseconds. */
  readonly holdUntil: number
  /** Responses delivered per second over the goodput window, fleet-wide. */
  readonly delivered: number
  /** Requests sent per second over the same window. */
  readonly sent: number
}

/**
 * The answer to a take: `wait` 0 when tokens were taken (`taken` of them, at
 * least one), else the milliseconds until one will be there (nothing was
 * taken); and the control as of now.
 *
 * @category models
 * @since 0.1.0
 */
export interface Take {
  readonly wait: number
  readonly taken: number
  readonly control: Control
  /** The tenant the slots were taken for, when it is one of the ask's `others` (see `Order`). */
  readonly tenant?: string
}

/**
 * A delivered response reported to the store.
 *
 * @category models
 * @since 0.1.0
 */
export interface Delivery {
  /** Responses delivered. */
  readonly count: number
  /** Requests per second to add in slow start, for all of them. */
  readonly growth: number
  readonly restartAbove: number
  readonly restartGrowth: number
}

/**
 * A throttle reported to the store.
 *
 * @category models
 * @since 0.1.0
 */
export interface Throttle {
  /**
   * When the throttled request's send slot was granted (at the rate of then): a throttle of a request granted
   * before (or at) the last cut cuts nothing.
   */
  readonly sentAt: number
  /**
   * The reporting process's current rate. The cut starts from the lower of it and the delivered rate; with
   * nothing delivered in the window (the first round trip, or after an idle spell) from `beta` x the send
   * rate instead, since a throttle may be counted before the answers of the same moment.
   */
  readonly rate: number
  readonly beta: number
  readonly burst: number
  readonly minRate: number
  /** Milliseconds to regrow to the cut rate. */
  readonly recovery: number
  /** Hold every send until then (0: no hold). */
  readonly holdUntil: number
}

/**
 * An amount per dimension of a provider's limit (requests, all tokens, input
 * tokens, output tokens), as `RateLimitHeaders` names them: a call's cost, what
 * was charged for it, or a correction. A dimension left out is not involved.
 *
 * @category models
 * @since 0.1.0
 */
export type Quota = { readonly [K in QuotaDimension]?: number }

/**
 * @category models
 * @since 0.1.0
 */
export type QuotaDimension = Dimension

/**
 * What a provider said about one dimension: its limit per minute and what
 * remains of it.
 *
 * @category models
 * @since 0.1.0
 */
export interface QuotaSighting {
  readonly limit: number
  readonly remaining?: number | undefined
  /**
   * What the fleet thought was left when the provider counted (the `left` of the reservation of the call
   * whose response this is). A provider's count lags: it is as of the request's admission, before what was
   * sent or given back since; so it is compared with the fleet's count of the same moment, and only a
   * shortfall (the provider saw more spent: estimates too low, another client of the key) lowers what is
   * left now. Without it, the count sets a dimension seen for the first time and is otherwise not used.
   */
  readonly expected?: number | undefined
  /**
   * The fleet's running total of charges when that call was charged (its reservation's `counted`). What the
   * fleet charged since may have reached the provider first and be in its count too (requests sent at once
   * arrive in any order), and a shortfall taken since (from another call's count) is already taken: a
   * shortfall counts only beyond them, so neither a reordering nor a second sighting of the same spending
   * lowers what is left again. (A shortfall taken counts as a charge in the total.)
   */
  readonly counted?: number | undefined
}

/**
 * The answer to a reservation: `wait` 0 when the cost was charged (`charged`
 * says what, per dimension whose limit is known), else the milliseconds until
 * every dimension has room (nothing was charged).
 *
 * @category models
 * @since 0.1.0
 */
export interface Reservation {
  readonly wait: number
  readonly charged: Quota
  /** What is left in each charged dimension after the charge. */
  readonly left: Quota
  /** The running total of what the key was ever charged in each charged dimension, this charge included. */
  readonly counted: Quota
  /** The provider's request limit a minute, when the fleet was told it (a process not told yet learns it here). */
  readonly requestLimit?: number
}

/** A window of `buckets` counter pairs (`a`, `b`), bucket `i` holding epoch `epochs[i]` (-1: none yet). */
export interface Ring {
  readonly epochs: Array<number>
  readonly a: Array<number>
  readonly b: Array<number>
}

/**
 * The fleet's priority order for one key (see `Priority`), from the asks the store refused lately (each such
 * asker waits, in some process, and asks again): the highest class waiting and the lowest, each until when. While
 * a higher class waits, asks of lower ones are held back; but once classes above the lowest waiting one have
 * taken `starvationBound - 1` sends since it last had one, they are held back until it has taken its turn. A
 * class's mark is cleared when one of it takes a send; a process that is gone leaves its mark to expire.
 */
export interface Gate {
  top: number
  topUntil: number
  low: number
  lowUntil: number
  /** Sends granted above the lowest waiting class since it last had one. */
  passed: number
  /**
   * The tenants that asked lately: each one's weight, its pass (its sends over its weight, from where it came in
   * at the others' pace) and until when it is known to wait.
   */
  tenants?: { [key: string]: TenantMark }
}

export interface TenantMark {
  weight: number
  pass: number
  until: number
  /** The class it asked at last: tenants share within a class (priorities come first). */
  priority: number
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
  gate?: Gate
  /** The deepest `burst` asked of the bucket (absent: the first ask's). */
  depth?: number
}

export interface QuotaBucket {
  limit: number
  available: number
  counted: number
}

export interface QuotaState {
  at: number
  buckets: { [K in Dimension]?: QuotaBucket }
  gate?: Gate
}

/** What a step leaves: the state to write (`undefined`: nothing to write) and the operation's reply. */
export interface Step<S, R> {
  readonly state: S | undefined
  readonly reply: R
}

export interface TakeArgs {
  readonly window: Window
  readonly rate: number
  readonly burst: number
  readonly count: number
  readonly priority?: number
  readonly tenant?: string
  readonly weight?: number
}

export const newRing = (buckets: number): Ring => {
  const ring: Ring = { epochs: [], a: [], b: [] }
  for (let i = 0; i < buckets; i++) {
    ring.epochs.push(-1)
    ring.a.push(0)
    ring.b.push(0)
  }
  return ring
}

export const newLimiter = (now: number, window: Window, tokens: number): LimiterState => ({
  ring: newRing(window.buckets),
  tokens,
  at: now,
  mode: "slow-start",
  growth: 0,
  wmax: 0,
  lastCut: -1,
  recovery: 0,
  holdUntil: 0
})

export const ringAdd = (ring: Ring, now: number, window: Window, da: number, db: number): void => {
  const epoch = Math.floor(now / window.bucketMillis)
  const i = epoch % window.buckets
  if (ring.epochs[i] !== epoch) {
    ring.epochs[i] = epoch
    ring.a[i] = da
    ring.b[i] = db
  } else {
    ring.a[i] = ring.a[i]! + da
    ring.b[i] = ring.b[i]! + db
  }
}

/** The retry budget: records first attempts, or grants retries within `ratio` x first attempts + `minimum`. */
export const budget = (
  found: Ring | undefined,
  now: number,
  args: { readonly window: Window; readonly ask: BudgetAsk }
): Step<Ring, BudgetReply> => {
  const { ask, window } = args
  const ring = found === undefined ? newRing(window.buckets) : found
  if (ask._tag === "FirstAttempt") ringAdd(ring, now, window, ask.count, 0)
  const sums = ringSums(ring, now, window)
  const firstAttempts = sums[0]
  const retries = sums[1]
  if (ask._tag !== "Retry") {
    return { state: ask._tag === "Peek" ? undefined : ring, reply: { granted: 0, firstAttempts, retries } }
  }
  const granted = Math.max(0, Math.min(ask.count, Math.floor(ask.ratio * firstAttempts + ask.minimum + 1e-9 - retries)))
  if (granted > 0) ringAdd(ring, now, window, 0, granted)
  return { state: ring, reply: { granted, firstAttempts, retries: retries + granted } }
}

/** Takes up to `count` send tokens if one is there (within a microsecond), else says how long until one is. */
export const take = (found: LimiterState | undefined, now: number, args: TakeArgs): Step<LimiterState, Take> => {
  const { burst, rate, window } = args
  const state = found === undefined ? newLimiter(now, window, burst) : found
  refill(state, now, rate, burst)
  // Within a microsecond counts as there: a sleep of exactly the wait may refill to 1 - epsilon.
  const wait = state.at - now + (Math.max(0, 1 - state.tokens) * 1000) / rate
  const order = firstDue(state, now, args)
  if (order === undefined) {
    throughGate(state, now, args, Math.max(wait, heldWait), 0)
    return { state, reply: takeReply(state, now, window, Math.max(wait, heldWait), 0) }
  }
  // As many whole tokens as are there, up to `count` (a count that is not a number >= 1 asks for one) and the
  // asker's burst.
  const taken = wait <= 1e-3
    ? Math.max(1, Math.min(args.count >= 1 ? Math.floor(args.count) : 1, burst, Math.floor(state.tokens + 1e-9)))
    : 0
  if (taken > 0) {
    state.tokens = state.tokens - taken
    ringAdd(state.ring, now, window, 0, taken)
  }
  throughGate(state, now, order, taken > 0 ? 0 : wait, taken)
  // the ask's own tenant, held back for the one served, still waits
  const gate = state.gate
  if (order !== args && args.tenant !== undefined && gate !== undefined && gate.tenants !== undefined) {
    waits(gate.tenants, now, args.tenant, args.weight, priorityOf(args.priority), 0)
    forgetIdle(gate, gate.tenants)
  }
  const reply = takeReply(state, now, window, taken > 0 ? 0 : wait, taken)
  return {
    state,
    reply: order.tenant === args.tenant || order.tenant === undefined
      ? reply
      : { wait: reply.wait, taken: reply.taken, control: reply.control, tenant: order.tenant }
  }
}

/**
 * Counts delivered responses: in slow start the rate grows; after a cut, once the delivered rate is above
 * `restartAbove` x `wmax`, slow start begins again. A bucket nobody took from is left alone.
 */
export const delivered = (
  state: LimiterState | undefined,
  now: number,
  args: { readonly window: Window; readonly delivery: Delivery }
): Step<LimiterState, 0> => {
  const { delivery, window } = args
  if (state === undefined) return { state: undefined, reply: 0 }
  ringAdd(state.ring, now, window, delivery.count, 0)
  if (state.mode === "slow-start") {
    state.growth = state.growth + delivery.growth
  } else if (ringSums(state.ring, now, window)[0] / seconds(window) > delivery.restartAbove * state.wmax) {
    state.mode = "slow-start"
    state.growth = delivery.restartGrowth
  }
  return { state, reply: 0 }
}

/** A throttle: cuts the rate once per round trip (a request granted at or before the last cut cuts nothing). */
export const throttled = (
  found: LimiterState | undefined,
  now: number,
  args: { readonly window: Window; readonly throttle: Throttle }
): Step<LimiterState, Control> => {
  const t = args.throttle
  const window = args.window
  const state = found === undefined ? newLimiter(now, window, t.burst) : found
  refill(state, now, t.rate, t.burst)
  if (t.sentAt > state.lastCut) {
    state.tokens = Math.min(state.tokens, 0)
    const sums = ringSums(state.ring, now, window)
    state.mode = "cubic"
    state.wmax = Math.max(t.minRate, Math.min(t.rate, (sums[0] > 0 ? sums[0] : t.beta * sums[1]) / seconds(window)))
    state.lastCut = now
    state.recovery = t.recovery
    if (t.holdUntil > state.at) state.at = t.holdUntil
    state.holdUntil = Math.max(state.holdUntil, t.holdUntil)
  }
  return { state, reply: controlOf(state, now, window) }
}

/**
 * Charges `cost` if every dimension whose limit is known has room for it and 200 ms of its refill more (see
 * `FleetStore.Service.reserve`), else says how long until they do.
 */
export const reserve = (
  found: QuotaState | undefined,
  now: number,
  args: { readonly cost: Quota; readonly priority?: number; readonly tenant?: string; readonly weight?: number }
): Step<QuotaState, Reservation> => {
  const state = quotaAt(found, now)
  const cost = args.cost
  if (heldBack(state, now, args)) {
    throughGate(state, now, args, heldWait, 0)
    return { state, reply: told(state, { wait: heldWait, charged: {}, left: {}, counted: {} }) }
  }
  let wait = 0
  for (const d of dimensions) {
    const bucket = state.buckets[d]
    const amount = cost[d]
    if (bucket === undefined || amount === undefined || amount <= 0) continue
    const need = Math.min(amount + (bucket.limit * inHand) / perMinute, bucket.limit) - bucket.available
    if (need > 0) wait = Math.max(wait, (need * perMinute) / bucket.limit)
  }
  throughGate(state, now, args, wait > 1e-3 ? wait : 0, 1)
  if (wait > 1e-3) return { state, reply: told(state, { wait, charged: {}, left: {}, counted: {} }) }
  const charged: { [K in Dimension]?: number } = {}
  const left: { [K in Dimension]?: number } = {}
  const counted: { [K in Dimension]?: number } = {}
  for (const d of dimensions) {
    const bucket = state.buckets[d]
    const amount = cost[d]
    if (bucket === undefined || amount === undefined || amount <= 0) continue
    bucket.available = bucket.available - amount
    bucket.counted = bucket.counted + amount
    charged[d] = amount
    left[d] = bucket.available
    counted[d] = bucket.counted
  }
  return { state, reply: told(state, { wait: 0, charged, left, counted }) }
}

// A reservation's reply with the request limit the fleet was told, if it was.
const told = (state: QuotaState, reply: Reservation): Reservation => {
  const requests = state.buckets.requests
  return requests === undefined
    ? reply
    : {
      wait: reply.wait,
      charged: reply.charged,
      left: reply.left,
      counted: reply.counted,
      requestLimit: requests.limit
    }
}

/**
 * Gives back (positive) or charges (negative) an amount per dimension whose limit is known. A charge is counted
 * as a reservation's is: a sighting of a call charged before it (see `observe`) does not take it again.
 */
export const settle = (
  found: QuotaState | undefined,
  now: number,
  args: { readonly delta: Quota }
): Step<QuotaState, 0> => {
  const state = quotaAt(found, now)
  for (const d of dimensions) {
    const bucket = state.buckets[d]
    const amount = args.delta[d]
    if (bucket !== undefined && amount !== undefined) {
      bucket.available = Math.min(bucket.limit, bucket.available + amount)
      if (amount < 0) bucket.counted = bucket.counted - amount
    }
  }
  return { state, reply: 0 }
}

/** Records what a provider's headers said (see `FleetStore.QuotaSighting`). */
export const observe = (
  found: QuotaState | undefined,
  now: number,
  args: { readonly seen: { readonly [K in Dimension]?: QuotaSighting }; readonly blind?: Quota }
): Step<QuotaState, 0> => {
  const state = quotaAt(found, now)
  const blind = args.blind ?? {}
  for (const d of dimensions) {
    const sighting = args.seen[d]
    const bucket = state.buckets[d]
    const late = blind[d] ?? 0
    if (sighting === undefined) {
      // what was sent blind is charged to a budget the fleet already keeps
      if (bucket !== undefined && late > 0) {
        state.buckets[d] = { limit: bucket.limit, available: bucket.available - late, counted: bucket.counted + late }
      }
      continue
    }
    const limit = sighting.limit
    const remaining = sighting.remaining
    const expected = sighting.expected
    if (bucket === undefined) {
      // The first sighting of the fleet: what is left, as of the sighted call. The calls sent blind that the
      // provider counted before it (what is gone of the limit, as far as it goes) are in it; the rest are charged.
      const left = Math.min(limit, remaining === undefined ? limit : remaining)
      const charged = Math.max(0, late - (limit - left))
      state.buckets[d] = { limit, available: left - charged, counted: charged }
    } else {
      const since = sighting.counted === undefined ? 0 : Math.max(0, bucket.counted - sighting.counted)
      const shortfall = remaining !== undefined && expected !== undefined
        ? Math.min(0, remaining - expected + since)
        : 0
      // A shortfall is a charge the fleet did not know of: counted, so that a sighting of a call charged
      // before it (in flight meanwhile) does not take it again. So is what was sent blind.
      state.buckets[d] = {
        limit,
        available: Math.min(limit, bucket.available + shortfall) - late,
        counted: bucket.counted - shortfall + late
      }
    }
  }
  return { state, reply: 0 }
}

/**
 * Whether a state read back from a shared store is one this library wrote: every field a finite number in its
 * range (a time at most a day ahead), a mode it knows, a balance no higher than its limit. A store resets a key
 * that is not, rather than hand a caller `inf`, `1e300` or text (the memory store never needs to ask).
 */
export const valid = {
  budget: (state: unknown, _now: number, args: { readonly window: Window }): boolean => validRing(state, args.window),
  take: (state: unknown, now: number, args: { readonly window: Window }): boolean =>
    validLimiter(state, now, args.window),
  delivered: (state: unknown, now: number, args: { readonly window: Window }): boolean =>
    validLimiter(state, now, args.window),
  throttled: (state: unknown, now: number, args: { readonly window: Window }): boolean =>
    validLimiter(state, now, args.window),
  reserve: (state: unknown, now: number): boolean => validQuota(state, now),
  settle: (state: unknown, now: number): boolean => validQuota(state, now),
  observe: (state: unknown, now: number): boolean => validQuota(state, now)
}

/** The operations by name, as the Redis script calls them. */
export const steps = { budget, take, delivered, throttled, reserve, settle, observe }

// Internals -------------------------------------------------------------------

// An ask that says no priority is of the default class.
const priorityOf = (priority: number | undefined): number =>
  priority === undefined ? 1 : Math.max(0, Math.min(highestPriority, Math.floor(priority)))

// A held-back ask comes back this soon: what it waits for is usually one send of the waiting class away.
const heldWait = 10
// How long a refused class's mark outlives the wait it was told: its asker's next ask, late by a busy event loop.
const gateGrace = 250

// Whether an ask is held back: below the highest class waiting, unless the lowest's turn is due; above the lowest
// class waiting, when its turn is due; else, for a tenant, while another tenant of its class waits that has had
// less (a lower pass: its sends over its weight). Only within a class: a tenant held back for one of another class
// that the classes' order holds back in turn would wait for ever.
const heldBack = (state: { gate?: Gate }, now: number, order: Asked): boolean => {
  const gate = state.gate
  if (gate === undefined) return false
  const priority = priorityOf(order.priority)
  const due = gate.lowUntil > now && gate.passed >= starvationBound - 1
  if (due) return priority > gate.low
  if (gate.topUntil > now && priority < gate.top) return true
  const tenant = order.tenant
  const tenants = gate.tenants
  if (tenant === undefined || tenants === undefined) return false
  const pass = joined(tenants, now, tenant, order.weight, priority).pass
  for (const other in tenants) {
    const mark = tenants[other]!
    if (other !== tenant && mark.until > now && mark.priority === priority && mark.pass < pass) return true
  }
  return false
}

// An ask as the gate reads it: an `Order`, or one of its other tenants in its place.
interface Asked {
  readonly priority?: number | undefined
  readonly tenant?: string | undefined
  readonly weight?: number | undefined
  readonly others?: Order["others"] | undefined
}

// The ask, or the first of its other tenants, that the fleet's order does not hold back (`undefined`: none).
const firstDue = (state: { gate?: Gate }, now: number, order: Asked): Asked | undefined => {
  if (!heldBack(state, now, order)) return order
  const others = order.others
  if (others === undefined) return undefined
  for (let i = 0; i < Math.min(others.length, maxTenants); i++) {
    const other = others[i]!
    const candidate: Asked = { priority: order.priority, tenant: other.tenant, weight: other.weight, others }
    if (!heldBack(state, now, candidate)) return candidate
  }
  return undefined
}

// An ask's outcome, on the gate. Refused (held back, or for `wait` > 0), its class waits: it may be the highest or
// the lowest waiting, until its asker's next ask is surely in; so does its tenant. Granted (`taken` sends): a send
// above the lowest class waiting counts against the bound; one at or below it starts the bound again; either
// clears its own class's mark; its tenant's pass grows by the sends over its weight.
const throughGate = (state: { gate?: Gate }, now: number, order: Asked, wait: number, taken: number): void => {
  const priority = priorityOf(order.priority)
  if (state.gate === undefined) {
    // a key whose asks were never refused keeps no gate
    if (wait <= 0) return
    state.gate = { top: priority, topUntil: 0, low: priority, lowUntil: 0, passed: 0 }
  }
  const gate = state.gate
  const tenant = order.tenant
  if (tenant !== undefined) {
    if (gate.tenants === undefined) gate.tenants = {}
    const mark = joined(gate.tenants, now, tenant, order.weight, priority)
    gate.tenants[tenant] = mark
    if (wait > 0) mark.until = Math.max(mark.until, now + wait + gateGrace)
    else mark.pass = mark.pass + taken / mark.weight
    // the asker's other tenants wait, whatever this ask's outcome
    const others = order.others
    if (others !== undefined) {
      for (let i = 0; i < Math.min(others.length, maxTenants); i++) {
        const other = others[i]!
        if (other.tenant !== tenant) waits(gate.tenants, now, other.tenant, other.weight, priority, wait)
      }
    }
    forgetIdle(gate, gate.tenants)
  }
  if (wait > 0) {
    const until = now + wait + gateGrace
    if (gate.topUntil <= now || priority >= gate.top) {
      gate.topUntil = gate.topUntil > now && priority === gate.top ? Math.max(gate.topUntil, until) : until
      gate.top = priority
    }
    if (gate.lowUntil <= now || priority <= gate.low) {
      gate.lowUntil = gate.lowUntil > now && priority === gate.low ? Math.max(gate.lowUntil, until) : until
      gate.low = priority
    }
    return
  }
  if (gate.lowUntil > now && priority > gate.low) {
    gate.passed = gate.passed + 1
  } else {
    gate.passed = 0
    gate.lowUntil = now
  }
  if (priority >= gate.top) gate.topUntil = now
}

// A tenant of an asker's line is waiting, its next ask due after `wait` (or a held-back ask's).
const waits = (
  tenants: { [key: string]: TenantMark },
  now: number,
  tenant: string,
  weight: number | undefined,
  priority: number,
  wait: number
): void => {
  const mark = joined(tenants, now, tenant, weight, priority)
  mark.until = Math.max(mark.until, now + Math.max(wait, heldWait) + gateGrace)
  tenants[tenant] = mark
}

// A tenant's mark as of now, asking at `priority` (not stored): one that was not waiting comes in at the pace of
// those of its class that are (the lowest pass among them), with no credit for the time it was away.
const joined = (
  tenants: { [key: string]: TenantMark },
  now: number,
  tenant: string,
  weight: number | undefined,
  priority: number
): TenantMark => {
  const found = tenants[tenant]
  const w = weight === undefined ? 1 : Math.max(0.01, Math.min(100, weight))
  if (found !== undefined && found.until > now && found.priority === priority) {
    return { weight: w, pass: found.pass, until: found.until, priority }
  }
  let floor = found === undefined ? 0 : found.pass
  let lowest = -1
  for (const other in tenants) {
    const mark = tenants[other]!
    if (other !== tenant && mark.until > now && mark.priority === priority && (lowest < 0 || mark.pass < lowest)) {
      lowest = mark.pass
    }
  }
  if (lowest >= 0) floor = Math.max(floor, lowest)
  return { weight: w, pass: floor, until: found === undefined ? 0 : found.until, priority }
}

// At most `maxTenants` kept: the one idle longest (the earliest `until`, then the smallest key) goes first, then
// the next, while there are more (an asker's other tenants may add several at once). (A new record rather than
// `delete`, which TypeScriptToLua turns into a library of its own.)
const forgetIdle = (gate: Gate, tenants: { [key: string]: TenantMark }): void => {
  let count = 0
  let oldest: string | undefined = undefined
  for (const key in tenants) {
    count = count + 1
    const mark = tenants[key]!
    if (
      oldest === undefined || mark.until < tenants[oldest]!.until ||
      (mark.until === tenants[oldest]!.until && key < oldest)
    ) {
      oldest = key
    }
  }
  if (count <= maxTenants || oldest === undefined) return
  const kept: { [key: string]: TenantMark } = {}
  for (const key in tenants) if (key !== oldest) kept[key] = tenants[key]!
  gate.tenants = kept
  forgetIdle(gate, kept)
}

const validGate = (gate: unknown, now: number): boolean => {
  if (gate === undefined) return true
  if (typeof gate !== "object" || gate === null) return false
  const g = gate as Gate
  if (
    !(within(g.top, 0, highestPriority) && within(g.topUntil, -1, now + day) && within(g.low, 0, highestPriority) &&
      within(g.lowUntil, -1, now + day) && within(g.passed, 0, big))
  ) return false
  if (g.tenants === undefined) return true
  if (typeof g.tenants !== "object" || g.tenants === null) return false
  let count = 0
  for (const key in g.tenants) {
    count = count + 1
    const mark: unknown = g.tenants[key]
    // a key is at most 64 characters: 256 bytes in UTF-8, as Lua counts
    if (typeof mark !== "object" || mark === null || key.length > 256) return false
    const { pass, priority, until, weight } = mark as TenantMark
    if (
      !within(weight, 0.01, 100) || !within(pass, 0, big) || !within(until, -1, now + day) ||
      !within(priority, 0, highestPriority)
    ) return false
  }
  return count <= maxTenants
}

const perMinute = 60_000
// What a reservation leaves of each bucket, in milliseconds of its refill (see `FleetStore.Service.reserve`).
const inHand = 200
const big = 1e15
const day = 86_400_000

const seconds = (window: Window): number => (window.buckets * window.bucketMillis) / 1000

/** The window's sums of each counter, as of `now`. */
export const ringSums = (ring: Ring, now: number, window: Window): [number, number] => {
  const epoch = Math.floor(now / window.bucketMillis)
  let a = 0
  let b = 0
  for (let i = 0; i < window.buckets; i++) {
    const e = ring.epochs[i]!
    if (e > epoch - window.buckets && e <= epoch) {
      a = a + ring.a[i]!
      b = b + ring.b[i]!
    }
  }
  return [a, b]
}

// The bucket refills at `rate` up to `burst`; `at` ahead of now is a hold, with no refill until it passes.
const refill = (state: LimiterState, now: number, rate: number, burst: number): void => {
  // A bucket asked deeper than ever before comes with the new depth full: a provider's told request limit is a
  // minute's worth at once (see `internal/sendRate`). The bucket stays that deep; a shallower asker takes at most
  // its own burst at once.
  const depth = state.depth ?? burst
  if (burst > depth) state.tokens = state.tokens + burst - depth
  state.depth = Math.max(depth, burst)
  if (now > state.at) {
    state.tokens = Math.min(state.depth, state.tokens + ((now - state.at) * rate) / 1000)
    state.at = now
  }
}

// A take's reply: its wait and count, and the control as of now.
const takeReply = (state: LimiterState, now: number, window: Window, wait: number, count: number): Take => ({
  wait,
  taken: count,
  control: controlOf(state, now, window)
})

const controlOf = (state: LimiterState, now: number, window: Window): Control => {
  const sums = ringSums(state.ring, now, window)
  return {
    mode: state.mode,
    growth: state.growth,
    wmax: state.wmax,
    lastCut: state.lastCut,
    recovery: state.recovery,
    holdUntil: state.holdUntil,
    delivered: sums[0] / seconds(window),
    sent: sums[1] / seconds(window)
  }
}

// The quota as of now: each known bucket refills at its limit per minute, up to the limit.
const quotaAt = (found: QuotaState | undefined, now: number): QuotaState => {
  const state: QuotaState = found === undefined ? { at: now, buckets: {} } : found
  if (now <= state.at) return state
  for (const d of dimensions) {
    const bucket = state.buckets[d]
    if (bucket !== undefined) {
      bucket.available = Math.min(bucket.limit, bucket.available + ((now - state.at) * bucket.limit) / perMinute)
    }
  }
  state.at = now
  return state
}

const within = (x: unknown, lo: number, hi: number): boolean => typeof x === "number" && x === x && x >= lo && x <= hi

const validRing = (ring: unknown, window: Window): boolean => {
  if (typeof ring !== "object" || ring === null) return false
  const { a, b, epochs } = ring as Ring
  if (typeof epochs !== "object" || typeof a !== "object" || typeof b !== "object") return false
  if (epochs.length !== window.buckets || a.length !== window.buckets || b.length !== window.buckets) return false
  for (let i = 0; i < window.buckets; i++) {
    if (!within(epochs[i], -big, big) || !within(a[i], 0, big) || !within(b[i], 0, big)) return false
  }
  return true
}

const validLimiter = (state: unknown, now: number, window: Window): boolean => {
  if (typeof state !== "object" || state === null) return false
  const s = state as LimiterState
  return validRing(s.ring, window) && within(s.tokens, -1, big) && within(s.at, -1, now + day) &&
    (s.mode === "slow-start" || s.mode === "cubic") && within(s.growth, 0, big) && within(s.wmax, 0, big) &&
    (s.depth === undefined || within(s.depth, 1, big)) &&
    within(s.lastCut, -1, now + day) && within(s.recovery, 0, big) && within(s.holdUntil, -1, now + day) &&
    validGate(s.gate, now)
}

const validQuota = (state: unknown, now: number): boolean => {
  if (typeof state !== "object" || state === null) return false
  const q = state as QuotaState
  if (!within(q.at, -1, now + day) || typeof q.buckets !== "object" || !validGate(q.gate, now)) return false
  for (const d of dimensions) {
    const bucket: unknown = q.buckets[d]
    if (bucket === undefined) continue
    if (typeof bucket !== "object" || bucket === null) return false
    const { available, counted, limit } = bucket as QuotaBucket
    // What is left of a limit comes with it, and is never above it.
    if (!within(limit, 1e-9, big) || !within(available, -big, limit) || !within(counted, 0, big)) return false
  }
  return true
}
