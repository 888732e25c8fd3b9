/**
 * Client-side adaptive rate limiting, like the AWS SDKs' "adaptive" retry
 * mode: every call through the layer, first attempts and retries alike, takes
 * a send token first, and the rate of tokens follows what the server can take.
 *
 * - Until the first throttling error (429, 529, a throttling code) the limiter
 *   is off and costs one `Clock` read per call, unless `initialRate` asks it to
 *   start on, in slow start (the rate grows by one request per second with
 *   every success, doubling about once a second, until the first throttle).
 * - A throttling error cuts the rate to `beta` (0.7) times the rate actually
 *   measured: the successful responses of the last `window` (1 s). Goodput,
 *   not the send rate: after a burst the send rate counts every refused
 *   request, so it overstates what the server can take by the size of the burst.
 * - After a cut the rate grows back along CUBIC (`scale * (t - K)^3 + Wmax`,
 *   from TCP CUBIC and the AWS SDKs' adaptive mode): fast while far below the
 *   last rate that was throttled (`Wmax`), flat near it, then probing above.
 *   CUBIC rather than AIMD because it returns to `Wmax` in `K` seconds (3.3 s
 *   for 50 requests/s) and stays near it, so the average rate sits close to
 *   the server's capacity instead of climbing linearly from 70% of it each time.
 * - After a throttle the rate never exceeds twice the measured goodput (a rate
 *   not tried lately is not trusted, e.g. after an idle spell); it never falls
 *   below `minRate`.
 *
 * Waiting callers are released in order by one dispatcher, one token at a time
 * at the current rate, so a change of rate applies from the next token. The
 * tokens come from `@effect/experimental`'s `RateLimiter` (token bucket, delay
 * mode) on the `RateLimiterStore` in context: in memory for one process, or
 * Redis, where processes with the same `key` draw from one bucket (each paces
 * it with the rate it has measured itself). If the store fails, the call goes
 * through and a warning is logged.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "@effect/experimental"
 * import { Layer } from "effect"
 * import { AdaptiveRateLimiter, RetryingModel } from "effect-retry-layer"
 *
 * const Paced = RetryingModel.layer({ maxAttempts: 10 }).pipe(
 *   Layer.provide(AdaptiveRateLimiter.layer()),
 *   Layer.provide(RateLimiter.layerStoreMemory)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as RateLimiter from "@effect/experimental/RateLimiter"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as CompletionModel from "./CompletionModel.js"
import * as ModelError from "./ModelError.js"

/**
 * @since 0.1.0
 */
export interface Options {
  /** Processes with the same key on a shared store draw from one bucket. Default `"default"`. */
  readonly key?: string
  /** Start on, at this many requests per second, in slow start. Default: off until the first throttle. */
  readonly initialRate?: number
  /** Default 0.5 requests per second, as in the AWS SDKs. */
  readonly minRate?: number
  /** Default unbounded. */
  readonly maxRate?: number
  /** Multiplicative cut on throttling. Default 0.7. */
  readonly beta?: number
  /** CUBIC scaling constant. Default 0.4. */
  readonly scale?: number
  /** How far back goodput is measured. Default 1 second. */
  readonly window?: Duration.DurationInput
}

/**
 * The limiter's state.
 *
 * @since 0.1.0
 */
export interface State {
  readonly mode: "off" | "slow-start" | "cubic"
  /** Requests per second allowed now (meaningless while off). */
  readonly rate: number
  /** The rate that was last throttled. */
  readonly lastMaxRate: number
  /** When it was last throttled, in epoch milliseconds. */
  readonly lastThrottle: number
  /** Seconds CUBIC takes to return to `lastMaxRate`. */
  readonly k: number
  /** Times of recent successes, oldest first. */
  readonly successes: ReadonlyArray<number>
}

/**
 * A limiter: the decorated model, and its state for dashboards and tests.
 *
 * @since 0.1.0
 */
export interface Limited {
  readonly model: CompletionModel.Service
  readonly state: Effect.Effect<State>
}

/**
 * Decorates `inner`. The dispatcher lives as long as the scope.
 *
 * @since 0.1.0
 */
export const make = (
  inner: CompletionModel.Service,
  options: Options = {}
): Effect.Effect<Limited, never, RateLimiter.RateLimiterStore | Scope.Scope> =>
  Effect.gen(function*() {
    const settings = resolve(options)
    const limiter = yield* RateLimiter.make
    const state = yield* Ref.make(initialState(settings))
    const waiting = yield* Queue.unbounded<Deferred.Deferred<void>>()
    const key = `effect-retry-layer:limiter:${options.key ?? "default"}`

    // One token at the current rate. A bucket one token deep spaces sends evenly.
    const token = Effect.flatMap(Ref.get(state), ({ rate }) =>
      limiter.consume({
        key,
        algorithm: "token-bucket",
        onExceeded: "delay",
        limit: 1,
        window: Duration.millis(1000 / rate)
      })).pipe(
        Effect.flatMap(({ delay }) => Duration.isZero(delay) ? Effect.void : Effect.sleep(delay)),
        Effect.catchAll((error) =>
          Effect.logWarning(`adaptive rate limiter ${key}: the store failed (${error.message}); sending anyway`)
        )
      )

    // A paid token goes to the first caller still waiting: if the one it was paid for gave up
    // (was interrupted) meanwhile, the next one gets it, without paying again.
    const handOver = (waiter: Deferred.Deferred<void>): Effect.Effect<void> =>
      Effect.flatMap(
        Deferred.succeed(waiter, undefined),
        (delivered) => delivered ? Effect.void : Effect.flatMap(Queue.take(waiting), handOver)
      )
    yield* Queue.take(waiting).pipe(
      Effect.flatMap((waiter) =>
        Effect.flatMap(Deferred.isDone(waiter), (gone) => gone ? Effect.void : Effect.zipRight(token, handOver(waiter)))
      ),
      Effect.forever,
      Effect.forkScoped
    )

    const acquire = Effect.flatMap(Ref.get(state), ({ mode }) =>
      mode === "off" ?
        Effect.void :
        Effect.flatMap(Deferred.make<void>(), (waiter) =>
          Queue.offer(waiting, waiter).pipe(
            Effect.zipRight(Deferred.await(waiter)),
            Effect.onInterrupt(() => Deferred.interrupt(waiter))
          )))

    const observe = (sentAt: number) => (exit: Exit.Exit<unknown, ModelError.ModelError>) => {
      const throttled = Exit.isFailure(exit) && Option.exists(Cause.failureOption(exit.cause), ModelError.isThrottling)
      if (Exit.isSuccess(exit) || throttled) {
        return Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Ref.modify(state, (s) => {
            const next = throttled ? onThrottle(settings, s, now, sentAt) : onSuccess(settings, s, now)
            return [s.mode === "off" && next.mode !== "off" ? next : undefined, next] as const
          })).pipe(Effect.flatMap((enabled) =>
            enabled === undefined ? Effect.void : Effect.logInfo(
              `adaptive rate limiter for ${inner.name}/${inner.model}: throttled; pacing at ${
                enabled.rate.toFixed(1)
              } requests/s`
            )
          ))
      }
      return Effect.void
    }

    return {
      model: {
        name: inner.name,
        model: inner.model,
        chatStream: (request) =>
          Effect.zipRight(
            acquire,
            Effect.flatMap(
              Clock.currentTimeMillis,
              (sentAt) => Effect.onExit(inner.chatStream(request), observe(sentAt))
            )
          )
      },
      state: Ref.get(state)
    }
  })

/**
 * Decorates whatever `CompletionModel` the layer is provided with, drawing
 * tokens from the `RateLimiterStore` in context.
 *
 * @since 0.1.0
 */
export const layer = (
  options?: Options
): Layer.Layer<
  CompletionModel.CompletionModel,
  never,
  CompletionModel.CompletionModel | RateLimiter.RateLimiterStore
> =>
  Layer.scoped(
    CompletionModel.CompletionModel,
    Effect.flatMap(CompletionModel.CompletionModel, (inner) => Effect.map(make(inner, options), (l) => l.model))
  )

// The rate --------------------------------------------------------------------

/**
 * @internal
 */
export interface Settings {
  readonly initialRate: number | undefined
  readonly minRate: number
  readonly maxRate: number
  readonly beta: number
  readonly scale: number
  readonly windowMillis: number
}

const resolve = (options: Options): Settings => ({
  initialRate: options.initialRate,
  minRate: options.minRate ?? 0.5,
  maxRate: options.maxRate ?? Number.POSITIVE_INFINITY,
  beta: options.beta ?? 0.7,
  scale: options.scale ?? 0.4,
  windowMillis: Duration.toMillis(Duration.decode(options.window ?? "1 second"))
})

const initialState = (settings: Settings): State => ({
  mode: settings.initialRate === undefined ? "off" : "slow-start",
  rate: settings.initialRate ?? settings.maxRate,
  lastMaxRate: 0,
  lastThrottle: 0,
  k: 0,
  successes: []
})

const clamp = (settings: Settings, rate: number) => Math.min(settings.maxRate, Math.max(settings.minRate, rate))

const recent = (settings: Settings, successes: ReadonlyArray<number>, now: number) => {
  const from = now - settings.windowMillis
  let first = 0
  while (first < successes.length && successes[first]! <= from) first++
  return first === 0 ? successes : successes.slice(first)
}

/** Successful responses per second over the window. */
const goodput = (settings: Settings, successes: ReadonlyArray<number>) =>
  successes.length / (settings.windowMillis / 1000)

/**
 * @internal
 */
export const onSuccess = (settings: Settings, state: State, now: number): State => {
  const successes = [...recent(settings, state.successes, now), now]
  switch (state.mode) {
    case "off":
      return { ...state, successes }
    case "slow-start":
      // Self-clocked: it grows only as fast as successes come back.
      return { ...state, successes, rate: clamp(settings, state.rate + 1) }
    case "cubic": {
      const grown = settings.scale * Math.pow((now - state.lastThrottle) / 1000 - state.k, 3) + state.lastMaxRate
      const ceiling = 2 * Math.max(goodput(settings, successes), settings.minRate)
      return { ...state, successes, rate: clamp(settings, Math.min(grown, ceiling)) }
    }
  }
}

/**
 * A throttling error for a request sent before the last cut says nothing the
 * cut has not already answered (TCP's one cut per round trip): without this,
 * every refusal of one wave would cut again, and the rate would collapse.
 *
 * @internal
 */
export const onThrottle = (settings: Settings, state: State, now: number, sentAt: number): State => {
  if (state.mode === "cubic" && sentAt < state.lastThrottle) return state
  const successes = recent(settings, state.successes, now)
  const measured = goodput(settings, successes)
  const base = Math.max(settings.minRate, state.mode === "off" ? measured : Math.min(measured, state.rate))
  return {
    mode: "cubic",
    rate: clamp(settings, base * settings.beta),
    lastMaxRate: base,
    lastThrottle: now,
    k: Math.cbrt((base * (1 - settings.beta)) / settings.scale),
    successes
  }
}
