/**
 * Where the fleet pieces keep what their callers share: the retry budget's
 * window of first attempts and retries, and the rate limiter's send bucket,
 * delivered-response count and rate control.
 *
 * Every operation is atomic in the store, so any number of callers (fibers in
 * one process, or processes on one Redis) see one budget and one send rate per
 * key. Two stores:
 *
 * - {@link layerMemory}: one process. The default.
 * - `effect-retry-layer/redis` (`FleetStoreRedis.layer`): many processes, a
 *   script per operation over `ioredis` (what answers nothing goes with the next); every call has a timeout (50 ms
 *   by default), and while Redis fails the store answers from process-local
 *   state for a cool-down, then tries Redis again (see {@link resilient}).
 *
 * The operations are the policies' primitives, not the policies: the budget's
 * ratio, the limiter's CUBIC curve and slow start are computed by the callers
 * from what the store returns. Each operation is written once, as a step the
 * memory store runs and Redis runs as Lua generated from it.
 *
 * @example
 * ```ts
 * import { Layer } from "effect"
 * import { FleetStore, ResilientModel } from "effect-retry-layer"
 *
 * declare const AnthropicLive: Layer.Layer<import("effect-retry-layer").CompletionModel.CompletionModel>
 *
 * const Model = ResilientModel.layer().pipe(Layer.provide(AnthropicLive), Layer.provide(FleetStore.layerMemory))
 * ```
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { type DurationInput, type Tag, tag } from "../internal/compat.js"
import * as AwayShare from "./internal/awayShare.js"
import * as Ops from "./internal/fleetOps.js"
import type {
  BudgetAsk,
  BudgetReply,
  Control,
  Delivery,
  Quota,
  QuotaDimension,
  QuotaSighting,
  Reservation,
  Take,
  Throttle,
  Window
} from "./internal/fleetSteps.js"
import * as Steps from "./internal/fleetSteps.js"
import * as Keys from "./internal/keys.js"
import { expiry } from "./internal/storeTimeout.js"
import * as Tokens from "./internal/tokens.js"

export type {
  BudgetAsk,
  BudgetReply,
  Control,
  Delivery,
  Order,
  Quota,
  QuotaDimension,
  QuotaSighting,
  Reservation,
  Take,
  Throttle,
  Window
} from "./internal/fleetSteps.js"

/**
 * @category models
 * @since 0.1.0
 */
export interface Service {
  /** Records a first attempt, or asks to spend a retry. */
  readonly budget: (key: string, now: number, window: Window, ask: BudgetAsk) => Effect.Effect<BudgetReply>
  /**
   * Records `count` first attempts, as `budget` with a `FirstAttempt` ask does, without waiting for the store:
   * like every operation that answers nothing (`delivered`, `settle`, `observe`), a shared store may send it
   * with this process's next operation (see `FleetStoreRedis`).
   */
  readonly firstAttempts: (key: string, now: number, window: Window, count: number) => Effect.Effect<void>
  /**
   * Takes up to `count` send tokens (default 1) from the key's bucket (`rate` per second, `burst` deep), as
   * many as are there, if there is one. Nothing is taken ahead: a caller that must wait asks again, at the
   * rate of then. (A count lets a process waiting with several calls take their slots in one round trip.)
   * `order` is the asking caller's place in the fleet's order (see {@link Order}).
   */
  readonly take: (
    key: string,
    now: number,
    window: Window,
    rate: number,
    burst: number,
    count?: number,
    order?: Steps.Order
  ) => Effect.Effect<Take>
  /**
   * Counts a delivered (not throttled) response: in slow start, adds `growth` to the rate; after a cut, once
   * the delivered rate is above `restartAbove` x `wmax`, goes back to slow start with `restartGrowth`.
   */
  readonly delivered: (key: string, now: number, window: Window, delivery: Delivery) => Effect.Effect<void>
  /** Reports a throttle: cuts the rate (once per round trip, fleet-wide) and holds sends. */
  readonly throttled: (key: string, now: number, window: Window, throttle: Throttle) => Effect.Effect<Control>
  /**
   * The provider's budget, as the fleet knows it from the headers: for each dimension whose limit is known, a
   * bucket of one minute's worth refilled continuously at `limit` per minute (how Anthropic and OpenAI count).
   * Charges `cost` if every such dimension has room for it and 200 ms of its refill more, kept in hand (a
   * cost above the limit less that needs a full bucket): the fleet's count may run a call or so ahead of the
   * provider's, whose order of arrival it cannot know (see {@link QuotaSighting}), and on real processes sharing
   * one Redis, spending to the last request cost a 429 or two at the tail (at 300 requests a minute, 200 ms is
   * one request; in time rather than in calls, it scales with a process's share when Redis is gone). A
   * dimension whose limit is not known yet neither limits nor is charged. `order` orders the fleet's asks as
   * `take`'s does.
   */
  readonly reserve: (key: string, now: number, cost: Quota, order?: Steps.Order) => Effect.Effect<Reservation>
  /** Gives back (positive) or charges (negative) an amount per dimension: a reservation settled or released. */
  readonly settle: (key: string, now: number, delta: Quota) => Effect.Effect<void>
  /**
   * Records what a provider's headers said (see {@link QuotaSighting}), and charges `blind`: the cost of the
   * asker's calls in flight that were sent before it knew the limits. When the sighting is the fleet's first, the
   * part of `blind` the provider already counted (what is gone of the limit, at most) is not charged again.
   */
  readonly observe: (
    key: string,
    now: number,
    seen: { readonly [K in QuotaDimension]?: QuotaSighting },
    blind?: Quota
  ) => Effect.Effect<void>
}

/**
 * @category tags
 * @since 0.1.0
 */
export interface FleetStore {
  readonly _: unique symbol
}

/**
 * @category tags
 * @since 0.1.0
 */
export const FleetStore: Tag<FleetStore, Service> = tag<FleetStore, Service>(
  // the key is what "Service not found" prints: it says what to provide
  "effect-retry-layer/FleetStore (provide FleetStore.layerMemory for one process, or FleetStoreRedis.layer from effect-retry-layer/redis)"
)

/**
 * A store operation that failed or timed out; {@link resilient} turns it into
 * an answer from local state.
 *
 * @category errors
 * @since 0.1.0
 */
export class FleetStoreError extends Data.TaggedError("FleetStoreError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * A store of the fleet operations that may fail, such as one over the network.
 *
 * @category models
 * @since 0.1.0
 */
export type Fallible = {
  readonly [K in keyof Service]: (
    ...args: Parameters<Service[K]>
  ) => Effect.Effect<Ops.Success<ReturnType<Service[K]>>, FleetStoreError>
}

/**
 * A store in this process's memory. With `emptyBuckets`, a send bucket the
 * store has not seen starts with no tokens rather than a full burst: what a
 * process falling back from a shared store needs, since the fleet's burst was
 * spent long ago.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeMemory = (options: { readonly emptyBuckets?: boolean } = {}): Service => memory(options).service

// The memory store, and its send buckets and quotas for `resilient` to seed: the steps of internal/fleetSteps
// (which FleetStoreRedis runs as Lua) over states kept in maps.
const memory = (options: { readonly emptyBuckets?: boolean }) => {
  const budgets = new Map<string, Steps.Ring>()
  const limiters = new Map<string, Steps.LimiterState>()
  const quotas = new Map<string, Steps.QuotaState>()
  const states: { readonly [K in Ops.Op]: Map<string, unknown> } = {
    budget: budgets,
    take: limiters,
    delivered: limiters,
    throttled: limiters,
    reserve: quotas,
    settle: quotas,
    observe: quotas
  }
  const run: Ops.RunStep<never> = (op, key, now, args) =>
    Effect.sync(() => {
      const found = states[op].get(key) ??
        // A send bucket this store has not seen starts with no tokens when the buckets start empty.
        (options.emptyBuckets === true && (op === "take" || op === "throttled")
          ? Steps.newLimiter(now, (args as Ops.Args<"take">).window, 0)
          : undefined)
      const step = Steps.steps[op] as (state: unknown, now: number, args: unknown) => Steps.Step<unknown, never>
      const { reply, state } = step(found, now, args)
      if (state !== undefined) states[op].set(key, state)
      return reply
    })
  const service: Service = Ops.operations(run)
  return { service, limiters, quotas }
}

/**
 * One in-memory store for every layer it is provided to.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<FleetStore> = Layer.sync(FleetStore, () => makeMemory())

/**
 * @category models
 * @since 0.1.0
 */
export interface ResilientOptions {
  /** Names the store in log lines. */
  readonly label: string
  /** Longest wait for one operation. */
  readonly timeout: DurationInput
  /** How long to answer locally after a failure before trying the store again. */
  readonly coolDown: DurationInput
}

/**
 * A store that never fails or hangs: each operation on `primary` has
 * `timeout` (then one turn of the event loop's I/O: a reply that arrived
 * while this process was busy or stalled is read, not taken for an outage);
 * after a failure every operation on that key is answered from
 * process-local memory for `coolDown`, then the next one tries `primary`
 * again (keys on a Cluster's other nodes keep sharing). One warning when the
 * store is lost and one line when every key is back, not one per call.
 *
 * While the store is away each process keeps its own budget and paces on its
 * own, without a burst, at its share of the fleet's last rate and of the
 * provider's quota (its own sends over the fleet's, averaged over about 10 s;
 * said once per key and outage), and probes up from there as after a cut; a
 * process that had sent nothing starts slow. The quota's share then follows
 * the provider's headers: what they say the key spent, less this process's
 * own, is the rest of the fleet's, so a process whose peers finished takes
 * their part within about 10 s (and gives it back when they return). The
 * fleet degrades to independent limiters that together keep to the rate it
 * had found; it does not stop, and no call waits longer than `timeout` for
 * the store.
 *
 * @category combinators
 * @since 0.1.0
 */
export const resilient = (primary: Fallible, options: ResilientOptions): Service => {
  const localStore = memory({ emptyBuckets: true })
  const local = localStore.service
  const expired = expiry(Duration.toMillis(options.timeout))
  const coolDown = Duration.toMillis(options.coolDown)
  // Per key: on a Redis Cluster a node that is gone takes only the keys of its slots, and the others keep sharing.
  // The outage is one, for the log lines: from the first key that fails to the last that answers again.
  const downUntil = new Map<string, number>()

  const guarded = <A>(
    key: string,
    now: number,
    remote: Effect.Effect<A, FleetStoreError>,
    fallback: Effect.Effect<A>
  ): Effect.Effect<A> => {
    const until = downUntil.get(key)
    if (until !== undefined && now < until) return fallback
    // Both sides interruptible, though callers ask uninterruptibly (a batch's leader must not be dropped): the
    // loser of the race is interrupted and awaited, and neither an answer nor the timeout may wait for the other.
    return Effect.interruptible(remote).pipe(
      Effect.raceFirst(
        Effect.interruptible(Effect.flatMap(expired, (message) => Effect.fail(new FleetStoreError({ message }))))
      ),
      Effect.tap(() => {
        if (!downUntil.delete(key) || downUntil.size > 0) return Effect.void
        return Effect.logInfo(`fleet store ${options.label}: reachable again; sharing state across processes`)
      }),
      Effect.catchTag("FleetStoreError", (error) => {
        const first = downUntil.size === 0
        downUntil.set(key, now + coolDown)
        if (!first) return fallback
        return Effect.andThen(
          Effect.logWarning(
            `fleet store ${options.label}: ${error.message}; using process-local state for ${coolDown} ms at a time ` +
              `until it answers again`
          ),
          fallback
        )
      })
    )
  }

  const away = shareWhileAway(primary, localStore, options.label)

  return {
    budget: (...args) => guarded(args[0], args[1], primary.budget(...args), local.budget(...args)),
    firstAttempts: (...args) => guarded(args[0], args[1], primary.firstAttempts(...args), local.firstAttempts(...args)),
    take: (...args) => guarded(args[0], args[1], away.remote.take(...args), away.local.take(...args)),
    delivered: (...args) => guarded(args[0], args[1], primary.delivered(...args), local.delivered(...args)),
    throttled: (...args) => guarded(args[0], args[1], primary.throttled(...args), local.throttled(...args)),
    reserve: (...args) => guarded(args[0], args[1], away.remote.reserve(...args), away.local.reserve(...args)),
    settle: (...args) => guarded(args[0], args[1], away.remote.settle(...args), away.local.settle(...args)),
    observe: (...args) => guarded(args[0], args[1], away.remote.observe(...args), away.local.observe(...args))
  }
}

// A process's charges to a quota and the fleet's, as the store counted them (one dimension's running total).
interface Charges {
  readonly dimension: QuotaDimension
  readonly counted: number
  readonly at: number
  readonly own: number
  readonly fleet: number
}

/**
 * What a process keeps to while the store is away: its share of the fleet's pace, not the whole of it. The
 * share is its own grants over the fleet's sends, averaged over about 10 s. The first local answer of
 * an outage starts the send bucket at the share of the fleet's last rate, as just after a cut (the curve
 * regrows from there), and the limiter's provider quota at the share of its limits and of what was left;
 * sightings of the provider's limits count at the share until the store answers. The quota's share then follows
 * the provider's count (internal/awayShare): what the rest of the fleet spent is what the provider counted less
 * this process's own charges, and a process takes what its peers leave (they stopped, or finished) and gives
 * back what they need. With no share known (a process that had sent nothing) the bucket starts slow and the
 * quota from the next sighting, as a new store.
 * The `remote` operations record what the store said; the `local` ones answer in its place. (A constructor
 * closure, long for that reason only: the records of the send buckets and the quotas, and the seeding of each.)
 */
const shareWhileAway = (primary: Fallible, local: ReturnType<typeof memory>, label: string) => {
  const shareSpan = 10_000
  // Per send bucket: the rate this process asked at, the store's last answer, this process's own grants over
  // the bucket's window (to seed the local one) and the counts of its grants and of the fleet's sends, averaged.
  // Per quota: the limits of the provider's last sighting, what was left at the last charge, and this process's
  // charges and the fleet's (both as the store counted them), averaged like the grants. `shared` holds
  // the keys the store answered since they were last seeded; `shares`, the share each seeded quota counts
  // sightings at, as it follows the provider's count.
  const buckets = new Map<
    string,
    { rate: number; control: Control; own: Steps.Ring; at: number; ownSent: number; fleetSent: number }
  >()
  const quotas = new Map<
    string,
    {
      limits: { -readonly [K in QuotaDimension]?: number }
      left: Quota
      charges?: Charges | undefined
    }
  >()
  const shared = new Set<string>()
  const shares = new Map<string, AwayShare.AwayShare>()

  // Counts over `shareSpan` (exponentially weighted), both weighted alike: a window of a second holds a handful
  // of sends at a provider's pace, too few to tell a process's share from chance. (The ratio of averaged rates
  // was not one: the fleet's lagged its start-up burst, and a process that took much of it counted 100%.) The
  // fleet's sends are its rate, as each answer gives it, times the time since the last; since this process last
  // asked, the fleet is taken to have gone on at that rate.
  const shareOf = (bucketKey: string, now: number): number | undefined => {
    const last = buckets.get(bucketKey)
    if (last === undefined) return undefined
    const decay = Math.exp(-(now - last.at) / shareSpan)
    const fleet = last.fleetSent * decay + (last.control.sent * (now - last.at)) / 1000
    const share = fleet > 0 ? Math.min(1, (last.ownSent * decay) / fleet) : 0
    return share > 0 ? share : undefined
  }
  const said = (key: string, line: string) =>
    Effect.logWarning(`fleet store ${label}: ${key} ${line} until the store answers`)

  const remoteTake: Fallible["take"] = (key, now, window, rate, burst, count, order) =>
    Effect.map(primary.take(key, now, window, rate, burst, count, order), (take) => {
      const last = buckets.get(key)
      const own = last?.own ?? Steps.newRing(window.buckets)
      const decay = last === undefined ? 0 : Math.exp(-Math.max(0, now - last.at) / shareSpan)
      if (take.taken > 0) Steps.ringAdd(own, now, window, 0, take.taken)
      buckets.set(key, {
        rate,
        control: take.control,
        own,
        at: now,
        ownSent: (last?.ownSent ?? 0) * decay + take.taken,
        fleetSent: last === undefined
          ? 0
          : last.fleetSent * decay + (take.control.sent * Math.max(0, now - last.at)) / 1000
      })
      shared.add(key)
      return take
    })
  const localTake: Service["take"] = (key, now, window, rate, burst, count, order) =>
    Effect.suspend(() => {
      const last = buckets.get(key)
      if (!shared.delete(key) || last === undefined) {
        return local.service.take(key, now, window, rate, burst, count, order)
      }
      const share = shareOf(key, now)
      if (share === undefined) {
        local.limiters.delete(key)
        return local.service.take(key, now, window, rate, burst, count, order)
      }
      const recovery = Math.max(1, last.control.recovery)
      local.limiters.set(key, {
        ...Steps.newLimiter(Math.max(now, last.control.holdUntil), window, 0),
        // its own sends as what it sent and had delivered: a cut measures from them, not from an empty window
        ring: { epochs: [...last.own.epochs], a: [...last.own.b], b: [...last.own.b] },
        mode: "cubic",
        wmax: share * last.rate,
        lastCut: now - recovery,
        recovery,
        holdUntil: last.control.holdUntil
      })
      return Effect.andThen(
        said(
          key,
          `paces at this process's share of the fleet's last rate, ${(share * last.rate).toFixed(2)} of ` +
            `${last.rate.toFixed(2)} requests/s,`
        ),
        local.service.take(key, now, window, rate, burst, count, order)
      )
    })

  const remoteQuota = <A>(key: string, operation: Effect.Effect<A, FleetStoreError>, record: (a: A) => void) =>
    Effect.map(operation, (a) => {
      record(a)
      shared.add(key)
      shares.delete(key)
      return a
    })
  const quota = (key: string) => {
    let known = quotas.get(key)
    if (known === undefined) quotas.set(key, known = { limits: {}, left: {} })
    return known
  }
  // The running totals a reservation gives, in the first dimension it charged: the fleet's charges since this
  // process's last are the difference (a store that started afresh counts from this one).
  const counting = (
    last: Charges | undefined,
    now: number,
    r: Steps.Reservation
  ) => {
    const dimension = last !== undefined && r.counted[last.dimension] !== undefined
      ? last.dimension
      : Tokens.dimensions.find((d) => r.counted[d] !== undefined)
    if (dimension === undefined) return last
    const counted = r.counted[dimension]!
    const own = r.charged[dimension] ?? 0
    if (last === undefined || last.dimension !== dimension) return { dimension, counted, at: now, own, fleet: own }
    const decay = Math.exp(-Math.max(0, now - last.at) / shareSpan)
    const since = counted >= last.counted ? counted - last.counted : own
    return { dimension, counted, at: now, own: last.own * decay + own, fleet: last.fleet * decay + since }
  }
  // Its charges over the fleet's, the fleet taken to have gone on at its average since this process last charged.
  const chargedShare = (charges: Charges, now: number): number | undefined => {
    const idle = Math.max(0, now - charges.at)
    const decay = Math.exp(-idle / shareSpan)
    const share = Math.min(1, (charges.own * decay) / (charges.fleet * decay + (charges.fleet / shareSpan) * idle))
    return share > 0 ? share : undefined
  }
  // Before the first local answer of an outage: the quota at this process's share, or (no share) from scratch.
  const seedQuota = (key: string, now: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (!shared.delete(key)) return Effect.void
      const known = quotas.get(key)
      // what the store counted of this process's charges and the fleet's; for a quota this process never charged
      // (or one whose store counts no dimension), the send bucket's share
      const charges = known?.charges
      const share = charges !== undefined && charges.fleet > 0
        ? chargedShare(charges, now)
        : shareOf(Keys.sendBucketOfQuota(key), now)
      local.quotas.delete(key)
      if (share === undefined || known === undefined) return Effect.void
      shares.set(key, AwayShare.make(share, now))
      const buckets: Steps.QuotaState["buckets"] = {}
      for (const d of Tokens.dimensions) {
        const limit = known.limits[d]
        if (limit === undefined) continue
        buckets[d] = { limit: share * limit, available: share * Math.min(limit, known.left[d] ?? limit), counted: 0 }
      }
      local.quotas.set(key, { at: now, buckets })
      return said(key, `counts ${(share * 100).toFixed(0)}% of the provider's limits (this process's share)`)
    })
  // A sighting at the share, once the share has followed it; what it gained, it takes of what the provider has left.
  const atShare = (key: string, now: number, seen: { readonly [K in QuotaDimension]?: QuotaSighting }) => {
    const away = shares.get(key)
    if (away === undefined) return seen
    const gained = AwayShare.sighted(away, now, seen)
    const state = local.quotas.get(key)
    if (gained > 0 && state !== undefined) {
      for (const d of Tokens.dimensions) {
        const bucket = state.buckets[d]
        const remaining = seen[d]?.remaining
        if (bucket !== undefined && remaining !== undefined) bucket.available += gained * remaining
      }
    }
    const share = away.value
    return Object.fromEntries(
      Object.entries(seen).map(([d, sighting]) => [d, {
        ...sighting,
        limit: share * sighting!.limit,
        remaining: sighting!.remaining === undefined ? undefined : share * sighting!.remaining
      }])
    )
  }

  // What this process charged the provider while away (a settlement's delta is a refund: charged as its negative).
  const spent = (key: string, amounts: Quota, sign: 1 | -1): void => {
    const away = shares.get(key)
    if (away !== undefined) AwayShare.spend(away, amounts, sign)
  }

  return {
    remote: {
      take: remoteTake,
      reserve: (key, now, cost, order) =>
        remoteQuota(key, primary.reserve(key, now, cost, order), (r) => {
          const known = quota(key)
          known.left = { ...known.left, ...r.left }
          known.charges = counting(known.charges, now, r)
        }),
      settle: (key, now, delta) => remoteQuota(key, primary.settle(key, now, delta), () => {}),
      observe: (key, now, seen, blind) =>
        remoteQuota(key, primary.observe(key, now, seen, blind), () => {
          const { limits } = quota(key)
          for (const d of Tokens.dimensions) if (seen[d] !== undefined) limits[d] = seen[d].limit
        })
    } satisfies Pick<Fallible, "take" | "reserve" | "settle" | "observe">,
    local: {
      take: localTake,
      reserve: (key, now, cost, order) =>
        Effect.andThen(
          seedQuota(key, now),
          Effect.tap(local.service.reserve(key, now, cost, order), (r) => Effect.sync(() => spent(key, r.charged, 1)))
        ),
      settle: (key, now, delta) =>
        Effect.andThen(
          seedQuota(key, now),
          Effect.tap(local.service.settle(key, now, delta), () => Effect.sync(() => spent(key, delta, -1)))
        ),
      observe: (key, now, seen, blind) =>
        Effect.andThen(
          seedQuota(key, now),
          Effect.suspend(() => {
            if (blind !== undefined) spent(key, blind, 1)
            return local.service.observe(key, now, atShare(key, now, seen), blind)
          })
        )
    } satisfies Pick<Service, "take" | "reserve" | "settle" | "observe">
  }
}
