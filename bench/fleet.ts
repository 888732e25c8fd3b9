/**
 * Fleet goodput: N clients start at once, each makes one call through one
 * shared layer, against a server with capacity C requests/s (token bucket,
 * burst C, 200 ms latency) that answers 429 when over capacity. Each retry
 * strategy meets the same server, in discrete virtual time (`DiscreteTime`),
 * with the same seed.
 *
 * Strategies other than this library's are written from their libraries'
 * code, as Effect schedules on the same clock and `Random`:
 * - Effect: `Schedule.exponential("1 second")` + `Schedule.jittered` (x0.8-1.2);
 * - AWS full jitter: `random(0, min(20 s, 500 ms * 2^n))`, the throttling base
 *   and cap of the AWS SDK v3 standard mode (@smithy/util-retry constants);
 * - cockatiel's `decorrelatedJitterGenerator` (ExponentialBackoffGenerators.ts,
 *   Polly's DecorrelatedJitterV2), with its defaults initialDelay 128 ms,
 *   maxDelay 30 s, exponent 2.
 * None of those three reads Retry-After. Every strategy may make 30 attempts.
 */
import { RateLimiter } from "@effect/experimental"
import type { Scope } from "effect"
import { Clock, Duration, Effect, Logger, LogLevel, Random, Schedule } from "effect"
import type { CompletionModel } from "effect-retry-layer"
import { AdaptiveRateLimiter, RetryingModel, RetrySchedule } from "effect-retry-layer"
import { ThrottledModel } from "effect-retry-layer/testing"
import { completionChart } from "./support/chart.js"
import * as DiscreteTime from "./support/DiscreteTime.js"
import { report } from "./support/report.js"

export const maxAttempts = 30
const latency = "200 millis"
const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "hi" }] }

export const servers = {
  "Retry-After: 1": { fixed: "1 second" },
  "exact Retry-After": "exact",
  "no Retry-After": "none"
} as const satisfies Record<string, ThrottledModel.Options["retryAfter"]>
export type ServerVariant = keyof typeof servers

type Call = CompletionModel.Service["chatStream"]
type Wrap = (server: CompletionModel.Service) => Effect.Effect<Call, never, Scope.Scope | RateLimiter.RateLimiterStore>

const withPolicy = (policy: RetrySchedule.RetryPolicy.Input): Wrap => (server) =>
  Effect.succeed(RetryingModel.make(server, { ...policy, maxAttempts }).chatStream)

const withLimiter = (policy: RetrySchedule.RetryPolicy.Input, limiter: AdaptiveRateLimiter.Options): Wrap => (server) =>
  Effect.map(
    AdaptiveRateLimiter.make(server, limiter),
    ({ model }) => RetryingModel.make(model, { ...policy, maxAttempts }).chatStream
  )

/** Any schedule of delays, on the same classification-blind `Effect.retry` the other libraries amount to. */
const withDelays = (delay: () => (retry: number) => Effect.Effect<Duration.Duration>): Wrap => (server) =>
  Effect.succeed((req) =>
    Effect.suspend(() => {
      const next = delay()
      return Effect.retry(
        server.chatStream(req),
        Schedule.recurs(maxAttempts - 1).pipe(Schedule.modifyDelayEffect((retry) => next(retry)))
      )
    })
  )

const awsFullJitter = withDelays(() => (retry) =>
  Effect.map(Random.next, (r) => Duration.millis(r * Math.min(20_000, 500 * 2 ** retry)))
)

// cockatiel's decorrelatedJitterGenerator, state and all.
const cockatielDecorrelated = withDelays(() => {
  let previous = 0
  return (retry) =>
    Effect.map(Random.next, (r) => {
      const t = retry + r
      const next = 2 ** t * Math.tanh(Math.sqrt(4 * t))
      const delay = Math.min(Math.max(0, next - previous) * (1 / 1.4) * 128, 30_000)
      previous = next
      return Duration.millis(delay)
    })
})

const effectJittered: Wrap = (server) =>
  Effect.succeed((req) =>
    Effect.retry(
      server.chatStream(req),
      Schedule.exponential("1 second").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(maxAttempts - 1)))
    )
  )

export interface Strategy {
  readonly name: string
  readonly wrap: Wrap
}

export const strategies: ReadonlyArray<Strategy> = [
  { name: "this library, default policy", wrap: withPolicy({}) },
  { name: "this library, RetryPolicy.rateLimit", wrap: withPolicy(RetrySchedule.RetryPolicy.rateLimit) },
  { name: "this library + adaptive limiter", wrap: withLimiter({}, {}) },
  { name: "this library + adaptive limiter, slow start 10/s", wrap: withLimiter({}, { initialRate: 10 }) },
  { name: "Retry-After honoured, no jitter", wrap: withPolicy({ jitter: "none" }) },
  { name: "Effect exponential + jittered", wrap: effectJittered },
  { name: "AWS full jitter", wrap: awsFullJitter },
  { name: "cockatiel decorrelated jitter", wrap: cockatielDecorrelated }
]

export interface Outcome {
  readonly n: number
  readonly capacity: number
  readonly server: ServerVariant
  readonly strategy: string
  readonly calls: number
  readonly succeeded: number
  /** Completion time of each client that succeeded, in ms, ascending. */
  readonly completions: ReadonlyArray<number>
  readonly makespanMillis: number
}

/** One run: `n` clients against capacity `capacity`/s, all in discrete virtual time. */
export const simulate = (n: number, capacity: number, server: ServerVariant, strategy: Strategy, seed = 1): Outcome =>
  DiscreteTime.run(
    Effect.gen(function*() {
      const [throttled, stats] = yield* ThrottledModel.make({ capacity, latency, retryAfter: servers[server] })
      const call = yield* strategy.wrap(throttled)
      const results = yield* Effect.forEach(
        Array.from({ length: n }),
        () =>
          Effect.zipWith(
            Effect.exit(call(request)),
            Clock.currentTimeMillis,
            (exit, at) => exit._tag === "Success" ? at : undefined
          ),
        { concurrency: "unbounded" }
      )
      const end = yield* Clock.currentTimeMillis
      const { accepted, refused } = yield* stats
      const completions = results.filter((t): t is number => t !== undefined).sort((a, b) => a - b)
      return {
        n,
        capacity,
        server,
        strategy: strategy.name,
        calls: accepted + refused,
        succeeded: completions.length,
        completions,
        makespanMillis: end
      }
    }).pipe(
      Effect.scoped,
      Effect.provide(RateLimiter.layerStoreMemory),
      Effect.withRandom(Random.make(seed)),
      Effect.withTracerEnabled(false),
      Logger.withMinimumLogLevel(LogLevel.None)
    )
  )

const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!

/** The figures the tables show: ratios to the physical floor N/C, and completion times in seconds. */
export const figures = (o: Omit<Outcome, "server" | "strategy">) => {
  const floorMillis = (o.n / o.capacity) * 1000
  return {
    "makespan / (N/C)": round(o.makespanMillis / floorMillis, 2),
    "calls / N": round(o.calls / o.n, 2),
    succeeded: `${round((100 * o.succeeded) / o.n, 1)}%`,
    "p50 s": round(quantile(o.completions, 0.5) / 1000, 1),
    "p99 s": round(quantile(o.completions, 0.99) / 1000, 1)
  }
}

/** A table row: the set-up, then the {@link figures}. */
export const row = (o: Outcome) => ({ N: o.n, server: o.server, strategy: o.strategy, ...figures(o) })

const round = (x: number, digits: number) => Number(x.toFixed(digits))

/** Every strategy against every server variant, at N = 1,000 and 10,000, capacity 100/s; a chart of one. */
export const run = () => {
  const capacity = 100
  const outcomes: Array<Outcome> = []
  for (const n of [1_000, 10_000]) {
    for (const server of Object.keys(servers) as Array<ServerVariant>) {
      for (const strategy of strategies) outcomes.push(simulate(n, capacity, server, strategy))
    }
  }
  report(
    "fleet",
    `Fleet goodput in virtual time: N clients, capacity ${capacity}/s (burst ${capacity}), ${latency} latency, ` +
      `${maxAttempts} attempts`,
    outcomes.map(row)
  )
  const charted = outcomes.filter((o) => o.n === 10_000 && o.server === "Retry-After: 1")
  completionChart(
    new URL("./results/fleet.svg", import.meta.url),
    `Clients done over time: 10,000 clients, capacity ${capacity}/s, 429 with Retry-After: 1`,
    10_000,
    charted.map((o) => ({ name: o.strategy, completions: o.completions }))
  )
}
