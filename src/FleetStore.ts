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
 * - `effect-retry-layer/redis` (`FleetStoreRedis.layer`): many processes over
 *   `ioredis`; every call has a timeout (50 ms by default), and while Redis
 *   fails the store answers from process-local state for a cool-down, then
 *   tries Redis again (see {@link resilient}).
 *
 * Each algorithm (budget window, send bucket, rate control, provider quota)
 * is written once, as a step from a key's state to an answer and a new state;
 * a store implements one primitive ({@link Store}: apply a step to a key
 * atomically), so the memory store and Redis run the same code. The budget's
 * ratio, the limiter's CUBIC curve and slow start are computed by the callers
 * from what the store returns.
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
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as internal from "./internal/fleetState.js"
import type * as Tokens from "./internal/tokens.js"

/**
 * A window of counters in `buckets` buckets of `bucketMillis` each.
 *
 * @since 0.2.0
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
 * @since 0.2.0
 */
export type BudgetAsk =
  | { readonly _tag: "FirstAttempt"; readonly count: number }
  | { readonly _tag: "Peek" }
  | { readonly _tag: "Retry"; readonly count: number; readonly ratio: number; readonly minimum: number }

/**
 * @since 0.2.0
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
 * @since 0.2.0
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
 * The answer to a take: `wait` 0 when a token was taken, else the milliseconds
 * until one will be there (nothing was taken); and the control as of now.
 *
 * @since 0.2.0
 */
export interface Take {
  readonly wait: number
  readonly control: Control
}

/**
 * A delivered response reported to the store.
 *
 * @since 0.2.0
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
 * @since 0.2.0
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
 * @since 0.3.0
 */
export type Quota = { readonly [K in QuotaDimension]?: number }

/**
 * @since 0.3.0
 */
export type QuotaDimension = Tokens.Dimension

/**
 * What a provider said about one dimension: its limit per minute and what
 * remains of it.
 *
 * @since 0.3.0
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
 * @since 0.3.0
 */
export interface Reservation {
  readonly wait: number
  readonly charged: Quota
  /** What is left in each charged dimension after the charge. */
  readonly left: Quota
  /** The running total of what the key was ever charged in each charged dimension, this charge included. */
  readonly counted: Quota
}

/**
 * The fleet operations the budget and the limiter call, each atomic per key:
 * what the `FleetStore` tag provides. Every store gives them from one
 * definition of each algorithm ({@link fromStore} over a {@link Store}).
 *
 * @since 0.2.0
 */
export interface Service {
  /** Records a first attempt, or asks to spend a retry. */
  readonly budget: (key: string, now: number, window: Window, ask: BudgetAsk) => Effect.Effect<BudgetReply>
  /**
   * Takes a send token from the key's bucket (`rate` per second, `burst` deep) if there is one. Nothing is
   * taken ahead: a caller that must wait asks again, at the rate of then.
   */
  readonly take: (
    key: string,
    now: number,
    window: Window,
    rate: number,
    burst: number
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
   * Charges `cost` if every such dimension has room for it (a cost above a limit needs a full bucket); a
   * dimension whose limit is not known yet neither limits nor is charged.
   */
  readonly reserve: (key: string, now: number, cost: Quota) => Effect.Effect<Reservation>
  /** Gives back (positive) or charges (negative) an amount per dimension: a reservation settled or released. */
  readonly settle: (key: string, now: number, delta: Quota) => Effect.Effect<void>
  /** Records what a provider's headers said (see {@link QuotaSighting}). */
  readonly observe: (
    key: string,
    now: number,
    seen: { readonly [K in QuotaDimension]?: QuotaSighting }
  ) => Effect.Effect<void>
}

/**
 * @since 0.2.0
 */
export class FleetStore extends Context.Tag("effect-retry-layer/FleetStore")<FleetStore, Service>() {}

/**
 * A store operation that failed or timed out; {@link resilient} turns it into
 * an answer from local state.
 *
 * @since 0.2.0
 */
export class FleetStoreError extends Data.TaggedError("FleetStoreError")<{
  readonly message: string
  readonly cause?: unknown
}> {}

/**
 * One step of a fleet algorithm on one key: from the key's state (`undefined`
 * when it has none) to the answer and the state to keep (`undefined`: leave
 * it as it was). A step may change the state it is given and return it.
 * `emptyBuckets` asks a new send bucket to start with no tokens rather than a
 * full burst: what a process falling back from a shared store needs, since
 * the fleet's burst was spent long ago.
 *
 * @since 0.4.0
 */
export type Step<S, A> = (state: S | undefined, emptyBuckets: boolean) => readonly [A, S | undefined]

/**
 * What a key's state looks like: `decode` gives the state in a JSON value if
 * this library could have written it at `now`, else `undefined` (a store
 * resets such a key).
 *
 * @since 0.4.0
 */
export interface Kind<S> {
  readonly name: string
  readonly decode: (json: unknown, now: number) => S | undefined
}

/**
 * What a store implements: one primitive, `update`, that applies a step to a
 * key's state atomically (no other update of the key between reading the state
 * and keeping the step's result). States are plain JSON data.
 *
 * @since 0.4.0
 */
export interface Store<E = never> {
  readonly update: <S, A>(key: string, kind: Kind<S>, now: number, step: Step<S, A>) => Effect.Effect<A, E>
}

/**
 * A store of the fleet operations that may fail, such as one over the network.
 *
 * @since 0.2.0
 */
export type Fallible = Store<FleetStoreError>

/**
 * The fleet operations on a store: every algorithm (budget window, send
 * bucket, rate control, provider quota) is one step, which the store applies.
 *
 * @since 0.4.0
 */
export const fromStore = (store: Store): Service => ({
  budget: (key, now, window, ask) => store.update(key, internal.budgetKind, now, internal.budget(window, now, ask)),
  take: (key, now, window, rate, burst) =>
    store.update(key, internal.limiterKind, now, internal.take(window, now, rate, burst)),
  delivered: (key, now, window, d) => store.update(key, internal.limiterKind, now, internal.delivered(window, now, d)),
  throttled: (key, now, window, t) => store.update(key, internal.limiterKind, now, internal.throttled(window, now, t)),
  reserve: (key, now, cost) => store.update(key, internal.quotaKind, now, internal.reserve(now, cost)),
  settle: (key, now, delta) => store.update(key, internal.quotaKind, now, internal.settle(now, delta)),
  observe: (key, now, seen) => store.update(key, internal.quotaKind, now, internal.observe(now, seen))
})

/**
 * A store in this process's memory, as the primitive (see {@link makeMemory}
 * for the operations). With `emptyBuckets`, a send bucket the store has not
 * seen starts with no tokens.
 *
 * @since 0.4.0
 */
export const memoryStore = (options: { readonly emptyBuckets?: boolean } = {}): Store => {
  const emptyBuckets = options.emptyBuckets === true
  // One map per kind: a key of one kind is never handed to another's step.
  const states = new Map<Kind<unknown>, Map<string, unknown>>()
  return {
    update: <S, A>(key: string, kind: Kind<S>, _now: number, step: Step<S, A>) =>
      Effect.sync(() => {
        let ofKind = states.get(kind)
        if (ofKind === undefined) {
          ofKind = new Map()
          states.set(kind, ofKind)
        }
        const [answer, next] = step(ofKind.get(key) as S | undefined, emptyBuckets)
        if (next !== undefined) ofKind.set(key, next)
        return answer
      })
  }
}

/**
 * The fleet operations in this process's memory.
 *
 * @since 0.2.0
 */
export const makeMemory = (options: { readonly emptyBuckets?: boolean } = {}): Service =>
  fromStore(memoryStore(options))

/**
 * One in-memory store for every layer it is provided to.
 *
 * @since 0.2.0
 */
export const layerMemory: Layer.Layer<FleetStore> = Layer.sync(FleetStore, () => makeMemory())

/**
 * @since 0.2.0
 */
export interface ResilientOptions {
  /** Names the store in log lines. */
  readonly label: string
  /** Longest wait for one operation. */
  readonly timeout: Duration.DurationInput
  /** How long to answer locally after a failure before trying the store again. */
  readonly coolDown: Duration.DurationInput
}

/**
 * A store that never fails or hangs: each operation on `primary` has
 * `timeout`; after a failure every operation on that key is answered from
 * process-local memory for `coolDown`, then the next one tries `primary`
 * again (keys on a Cluster's other nodes keep sharing). One warning when the
 * store is lost and one line when every key is back, not one per call.
 *
 * While the store is away each process keeps its own budget and paces on its
 * own (from slow start, without a burst): the fleet degrades to independent
 * limiters, it does not stop, and no call waits longer than `timeout` for it.
 *
 * @since 0.2.0
 */
export const resilient = (primary: Fallible, options: ResilientOptions): Service => {
  const local = memoryStore({ emptyBuckets: true })
  const timeout = Duration.decode(options.timeout)
  const coolDown = Duration.toMillis(Duration.decode(options.coolDown))
  // Per key: on a Redis Cluster a node that is gone takes only the keys of its slots, and the others keep sharing.
  // The outage is one, for the log lines: from the first key that fails to the last that answers again.
  const downUntil = new Map<string, number>()

  return fromStore({
    update: (key, kind, now, step) => {
      const fallback = local.update(key, kind, now, step)
      const until = downUntil.get(key)
      if (until !== undefined && now < until) return fallback
      return primary.update(key, kind, now, step).pipe(
        Effect.timeoutFail({
          duration: timeout,
          onTimeout: () => new FleetStoreError({ message: `no answer within ${Duration.format(timeout)}` })
        }),
        Effect.tap(() => {
          if (!downUntil.delete(key) || downUntil.size > 0) return Effect.void
          return Effect.logInfo(`fleet store ${options.label}: reachable again; sharing state across processes`)
        }),
        Effect.catchAll((error) => {
          const first = downUntil.size === 0
          downUntil.set(key, now + coolDown)
          if (!first) return fallback
          return Effect.zipRight(
            Effect.logWarning(
              `fleet store ${options.label}: ${error.message}; using process-local state for ${coolDown} ms at a ` +
                `time until it answers again`
            ),
            fallback
          )
        })
      )
    }
  })
}
