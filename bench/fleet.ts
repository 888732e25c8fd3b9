/**
 * Fleet goodput: N clients start at once, each makes one call, against a
 * server with a capacity of C requests/s (token bucket, burst 100, 200 ms
 * latency) that answers 429 when over capacity. Every strategy meets the same
 * server in discrete virtual time (`DiscreteTime`, the real compiled code),
 * with the same seed, so every figure is reproducible to the digit.
 *
 * Scenarios: `headline` (N 10,000, C 100/s, Retry-After 1 s); the same with
 * the clients spread over 1, 3 and 10 processes (each its own layers and
 * dispatcher) on one shared store; `retry-after-30s`; `capacity-change`
 * (100/s, then 20/s from 20 s, then 200/s from 40 s); `random-503` (no
 * throttling at all, 30% of requests fail with 503).
 *
 * Strategies: `stack-defaults` is `ResilientModel.layer()` with no option set;
 * `retry-default` is `RetryingModel` with the default policy. The peers keep
 * their libraries' defaults, written from their code as schedules on the same
 * clock and `Random`:
 * - p-retry 7: 10 retries, 1 s doubling, no randomisation, no cap;
 * - cockatiel 3: `retry(handleAll, { backoff: new ExponentialBackoff() })`:
 *   no attempt limit, decorrelated jitter from 128 ms to 30 s;
 * - AWS SDK v3 standard mode: 3 attempts, full jitter on 100 ms (500 ms after
 *   throttling) doubling to 20 s;
 * - Effect: `Schedule.exponential("1 second").pipe(Schedule.jittered)`, no limit.
 * None of the peers reads Retry-After.
 */
import type { Scope } from "effect"
import { Context, Duration, Effect, FiberRef, Layer, Logger, LogLevel, Random, Schedule, Stream } from "effect"
import {
  CompletionModel,
  FleetStore,
  ModelError,
  ResilientModel,
  RetryingModel,
  RetrySchedule
} from "effect-retry-layer"
import { ThrottledModel, TokenLimitedModel } from "effect-retry-layer/testing"
import * as DiscreteTime from "./support/DiscreteTime.js"
import { fleetCharts } from "./support/fleetCharts.js"
import * as Driver from "./support/fleetDriver.js"
import type { Outcome, Scenario } from "./support/fleetScenarios.js"
import * as Scenarios from "./support/fleetScenarios.js"
import { report } from "./support/report.js"

const { burst, latencyMillis, row, scenarios } = Scenarios
const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "hi" }] }

export { type Outcome, row, type Scenario, scenarios, server } from "./support/fleetScenarios.js"
export type { TokenLimits } from "./support/fleetScenarios.js"

/** The physical floor of a scenario (see `support/fleetScenarios`), its capacity read as ThrottledModel reads it. */
export const floorMillis = (scenario: Scenario): number => Scenarios.floorMillis(scenario, ThrottledModel.capacityAt)

type Call = CompletionModel.Service["chatStream"]
/** One process's way of calling the server; processes of one run share the store. */
type Wrap = (server: CompletionModel.Service) => Effect.Effect<Call, never, Scope.Scope | FleetStore.FleetStore>

export interface Strategy {
  readonly name: string
  readonly wrap: Wrap
}

export const stack = (options: ResilientModel.Options = {}): Wrap => (server) =>
  Effect.map(
    Effect.orDie(Layer.build(
      ResilientModel.layer(options).pipe(Layer.provide(Layer.succeed(CompletionModel.CompletionModel, server)))
    )),
    (context) => Context.get(context, CompletionModel.CompletionModel).chatStream
  )

const withPolicy = (policy: RetrySchedule.RetryPolicy.Input): Wrap => (server) =>
  Effect.succeed(RetryingModel.make(server, policy).chatStream)

/** Any schedule of delays on a classification-blind `Effect.retry`, as the other libraries amount to. */
const withDelays = (
  maxAttempts: number,
  delay: () => (retry: number, error: unknown) => Effect.Effect<Duration.Duration>
): Wrap =>
(server) =>
  Effect.succeed((req) =>
    Effect.suspend(() => {
      const next = delay()
      let retry = 0
      return Effect.retry(
        server.chatStream(req),
        Schedule.identity<unknown>().pipe(
          Schedule.intersect(Schedule.recurs(maxAttempts === Infinity ? Number.MAX_SAFE_INTEGER : maxAttempts - 1)),
          Schedule.modifyDelayEffect(([error]) => next(retry++, error))
        )
      )
    })
  )

const pRetry = withDelays(11, () => (retry) => Effect.succeed(Duration.millis(1000 * 2 ** retry)))

// cockatiel's decorrelatedJitterGenerator (Polly's DecorrelatedJitterV2), state and all, with its defaults.
const cockatiel = withDelays(Infinity, () => {
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

const awsStandard = withDelays(3, () => (retry, error) =>
  Effect.map(Random.next, (r) => {
    const base = RetrySchedule.isThrottling(error) ? 500 : 100
    return Duration.millis(r * Math.min(20_000, base * 2 ** retry))
  }))

const effectJittered: Wrap = (server) =>
  Effect.succeed((req) =>
    Effect.retry(server.chatStream(req), Schedule.exponential("1 second").pipe(Schedule.jittered))
  )

export const strategies: ReadonlyArray<Strategy> = [
  { name: "stack-defaults", wrap: stack() },
  { name: "retry-default", wrap: withPolicy({}) },
  { name: "p-retry defaults", wrap: pRetry },
  { name: "cockatiel defaults", wrap: cockatiel },
  { name: "AWS standard", wrap: awsStandard },
  { name: "Effect exponential + jittered", wrap: effectJittered },
  { name: "stack-exact-hint", wrap: stack({ retry: { retryAfter: "exact" } }) },
  { name: "retry-exact-hint", wrap: withPolicy({ retryAfter: "exact" }) },
  // The limiter as before it read headers: what a provider or proxy that sends none gets.
  { name: "stack-without-headers", wrap: stack({ limiter: { rateLimitHeaders: false } }) }
]

const peersAndDefaults = strategies.map((s) => s.name).filter((name) =>
  !name.endsWith("exact-hint") && name !== "stack-without-headers"
)
const ours = ["stack-defaults", "retry-default", "stack-exact-hint", "retry-exact-hint"]

export const byName = (name: string) => strategies.find((s) => s.name === name)!

/** What each scenario (by name and processes) runs: the processes scenarios only the strategies that share state. */
const runs: ReadonlyArray<readonly [string, number, ReadonlyArray<string>]> = [
  ["headline", 1, peersAndDefaults],
  ["processes-1-shared", 1, ["stack-defaults"]],
  ["processes-3-shared", 3, ["stack-defaults"]],
  ["processes-10-shared", 10, ["stack-defaults"]],
  ["retry-after-30s", 1, peersAndDefaults],
  ["retry-after-300ms", 1, ours],
  ["capacity-change", 1, peersAndDefaults],
  ["deadlines", 1, peersAndDefaults],
  ["tenants", 1, peersAndDefaults],
  ["tenants", 10, ["stack-defaults"]],
  ["random-503", 1, peersAndDefaults],
  ["random-503-headers", 1, peersAndDefaults],
  ["interactive-100", 1, peersAndDefaults],
  ["mixed-priority", 1, peersAndDefaults],
  ["mixed-priority", 10, ["stack-defaults"]],
  ["mixed-priority-headers", 1, peersAndDefaults],
  ["mixed-priority-headers", 10, ["stack-defaults"]],
  ["token-limits", 1, [...peersAndDefaults, "stack-without-headers"]],
  ["token-limits", 10, ["stack-defaults", "stack-without-headers"]],
  ["token-limits-openai", 1, [...peersAndDefaults, "stack-without-headers"]],
  ["token-limits-openai", 10, ["stack-defaults", "stack-without-headers"]],
  ...[1, 20].flatMap((ms) =>
    [`headline-store-${ms}ms`, `processes-10-store-${ms}ms`, `token-limits-store-${ms}ms`].map((name) =>
      [name, name.startsWith("headline") ? 1 : 10, ["stack-defaults"]] as const
    )
  )
]

const tokenRequests = (n: number) => {
  const usage = new Map<CompletionModel.ChatRequest, CompletionModel.Usage>()
  const list = Scenarios.draws(n).map((d) => {
    const r: CompletionModel.ChatRequest = {
      messages: [{ role: "user", content: "x".repeat(d.chars) }],
      maxTokens: 1024
    }
    usage.set(r, { inputTokens: d.inputTokens, outputTokens: d.outputTokens })
    return r
  })
  return { list, usage }
}

// Which client's call a request is for (deadlines).
const clientOf = FiberRef.unsafeMake(0)

/** One run in discrete virtual time. */
export const simulate = (scenario: Scenario, strategy: Strategy, seed = 1): Outcome =>
  DiscreteTime.run(
    Effect.gen(function*() {
      const requests = scenario.tokens === undefined ? undefined : tokenRequests(scenario.n)
      const [throttled, stats] = scenario.tokens === undefined
        ? yield* ThrottledModel.make(scenario.server)
        : yield* TokenLimitedModel.make({
          limits: scenario.tokens.limits,
          headers: scenario.tokens.headers,
          latency: Duration.millis(scenario.tokens.latency ?? latencyMillis),
          failureRate: scenario.tokens.failureRate ?? 0,
          usage: (r) => requests!.usage.get(r)!
        })
      const memory = FleetStore.makeMemory()
      // each process its own way to the store: its own timeout and fall-back, as with Redis
      const storeOf = scenario.storeMillis === undefined ? () => memory : distant(memory, scenario.storeMillis)
      // deadlines: the requests each client's call sent, counted at the server by the client's fiber
      const deadline = scenario.deadlineMillis
      const sentBy = new Array<number>(scenario.n).fill(0)
      const server: CompletionModel.Service = deadline === undefined ? throttled : {
        ...throttled,
        chatStream: (req) =>
          Effect.flatMap(FiberRef.get(clientOf), (client) => {
            sentBy[client]!++
            return throttled.chatStream(req)
          })
      }
      const calls = yield* Effect.forEach(
        Array.from({ length: scenario.processes }),
        () => strategy.wrap(server).pipe(Effect.provideService(FleetStore.FleetStore, storeOf()))
      )
      const driven = yield* Driver.drive(
        scenario,
        calls.length,
        (p, client) => {
          const once = Effect.flatMap(calls[p]!(requests?.list[client] ?? request), Stream.runDrain)
          return deadline === undefined ? once : Effect.locally(once, clientOf, client)
        },
        (error) => error instanceof ModelError.DeadlineError
      )
      return Driver.outcomeOf(scenario, strategy.name, driven, yield* stats, sentBy, floorMillis(scenario))
    }).pipe(
      Effect.scoped,
      Effect.withRandom(Random.make(seed)),
      Effect.withTracerEnabled(false),
      Logger.withMinimumLogLevel(LogLevel.None)
    )
  )

/**
 * The store `millis` away from every process: each operation applies half a round trip after it is sent and
 * answers half a round trip later; each process reaches it through the Redis store's timeout and fall-back,
 * as it would reach Redis.
 */
const distant = (memory: FleetStore.Service, millis: number): () => FleetStore.Service => {
  const half = Duration.millis(millis / 2)
  const away = <A>(operation: Effect.Effect<A>) =>
    Effect.zipLeft(Effect.zipRight(Effect.sleep(half), operation), Effect.sleep(half))
  const fallible = Object.fromEntries(
    Object.entries(memory).map(([name, operation]) => [
      name,
      (...args: ReadonlyArray<unknown>) =>
        away((operation as (...a: ReadonlyArray<unknown>) => Effect.Effect<unknown>)(...args))
    ])
  ) as unknown as FleetStore.Fallible
  return () => FleetStore.resilient(fallible, { label: "simulated", timeout: "50 millis", coolDown: "2 seconds" })
}

/** Every scenario with its strategies; the charts of the headline and of the scenarios of latency. */
export const run = () => {
  const outcomes: Array<Outcome> = []
  for (const [name, processes, names] of runs) {
    const scenario = scenarios.find((s) => s.name === name && s.processes === processes)!
    for (const strategy of names) {
      const started = performance.now()
      const outcome = Scenarios.worstRise(scenario, (s) => simulate(s, byName(strategy)))
      outcomes.push(outcome)
      console.log(JSON.stringify(row(outcome)), `${((performance.now() - started) / 1000).toFixed(1)} s`)
    }
  }
  report(
    "fleet",
    `Fleet goodput in virtual time: capacity 100/s (burst ${burst}), ${latencyMillis} ms latency; ` +
      `floor = (N - burst) / C + latency`,
    outcomes.map(row)
  )
  fleetCharts(outcomes)
  return outcomes
}
