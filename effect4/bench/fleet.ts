/**
 * The fleet bench on the Effect 4 line: the Effect 3 line's scenarios (`bench/support/fleetScenarios.ts`, the same
 * servers, floors and rows), in discrete virtual time (`support/DiscreteTime.ts`), with the server simulated as an
 * `effect/http` `HttpClient` that answers like Anthropic (an SSE stream, or a 429 / 503 error with Anthropic's
 * body and, with token limits, its rate-limit headers; OpenAI's with `token-limits-openai`), so that this line's
 * providers and Effect 4's own client pieces meet the same server:
 *
 * - `e4 stack-defaults`: the provider with its defaults (its retry and the fleet stack), the processes of a run
 *   on one `FleetStore`;
 * - `e4 retry-default`: the provider with its retry only (`budget`, `breaker`, `limiter` false);
 * - Effect 4's pieces around the client, the provider's retry off: `withRateLimiter` (memory store, shared by the
 *   processes of a run as a Redis store would be; `limit` and `window` the server's stated capacity: 100 a
 *   second, or the token scenarios' requests a minute with each request's tokens as its weight; token bucket or
 *   fixed window; `times` unset, its default, or 3), `retryTransient` (`times: 2`, exponential from 500 ms, as
 *   their docs' example), and the three in the order their docs recommend (`withRateLimiter`, token bucket,
 *   then `retryTransient`, then `withCircuitBreaker`, 5 consecutive failures, 30 s open).
 *
 * The scenarios of latency under a shared limit (`mixed-priority`, `deadlines`, `tenants`, `interactive-100`,
 * `random-503-headers`) run the calls as the Effect 3 bench does: the batch tagged `Priority` "batch" and one
 * `"interactive"` call a second, every call in `Deadline.withDeadline` (a timeout for Effect 4's pieces), each
 * tenant's callers in `Tenant.withTenant`; the server counts each client's requests by the number in its prompt.
 *
 * Run: `npm run bench -- fleet4` (writes `bench/results/fleet-effect4.json`).
 */
import type { Scope } from "effect"
import { Clock, Effect, Layer, Random, Redacted, References, Schedule } from "effect"
import { FleetStore } from "effect-retry-layer"
import { Anthropic } from "effect-retry-layer/anthropic"
import { OpenAI } from "effect-retry-layer/openai"
import { FaultServer, ProviderLimits, Throttle } from "effect-retry-layer/testing/server"
import { AiError, LanguageModel } from "effect/ai"
import { HttpClient, HttpServerResponse } from "effect/http"
import type { HttpClientRequest } from "effect/http"
import { CircuitBreaker, RateLimiter } from "effect/persistence"
import * as DiscreteTime from "./support/DiscreteTime.js"
import * as Driver from "./support/fleetDriver.js"
import type { Outcome, Scenario } from "./support/fleetScenarios.js"
import * as Scenarios from "./support/fleetScenarios.js"

const { latencyMillis } = Scenarios
const baseUrl = "http://simulated.invalid"

/** What a strategy needs of a run: the server as a client, and the store and limiter store the processes share. */
interface Shared {
  readonly server: HttpClient.HttpClient
  readonly store: FleetStore.Service
  readonly limiterStore: Layer.Layer<RateLimiter.RateLimiterStore>
  readonly scenario: Scenario
}

/** One process's way of calling the model. */
type Wrap = (shared: Shared) => Effect.Effect<LanguageModel.LanguageModel["generateText"], never, Scope.Scope>

export interface Strategy {
  readonly name: string
  readonly wrap: Wrap
}

// The provider of the scenario's format over `client`, its options as given.
const providerOver = (
  shared: Shared,
  client: HttpClient.HttpClient,
  options: Omit<Anthropic.Options, "apiKey" | "model">
) => {
  const key = Redacted.make("bench")
  const layer = shared.scenario.tokens?.headers === "openai"
    ? OpenAI.layer({ apiKey: key, model: "m", maxTokens: 1024, ...options, baseUrl })
    : Anthropic.layer({ apiKey: key, model: "m", maxTokens: 1024, ...options, baseUrl })
  return Effect.map(
    Effect.orDie(Layer.build(layer.pipe(
      Layer.provide(Layer.succeed(HttpClient.HttpClient, client)),
      Layer.provide(Layer.succeed(FleetStore.FleetStore, shared.store))
    ))),
    (context) => (options: Parameters<LanguageModel.LanguageModel["generateText"]>[0]) =>
      Effect.provideContext(LanguageModel.generateText(options), context)
  ) as Effect.Effect<LanguageModel.LanguageModel["generateText"], never, Scope.Scope>
}

/** Effect 4's pieces around the server, in their docs' order; `undefined` leaves a piece out. */
const builtins = (pieces: {
  readonly limiter?: { readonly algorithm: "token-bucket" | "fixed-window"; readonly times?: number }
  readonly retryTransient?: boolean
  readonly breaker?: boolean
}): Wrap =>
(shared) =>
  Effect.gen(function*() {
    let client = shared.server
    if (pieces.limiter !== undefined) {
      const limiter = yield* Effect.provide(RateLimiter.make, shared.limiterStore)
      const tokens = shared.scenario.tokens
      client = client.pipe(HttpClient.withRateLimiter({
        limiter,
        key: "provider",
        algorithm: pieces.limiter.algorithm,
        ...(tokens === undefined
          ? { limit: Math.min(shared.scenario.server.capacity, 1e6), window: "1 second" }
          : { limit: tokens.limits.requests!, window: "1 minute" }),
        ...(pieces.limiter.times === undefined ? {} : { times: pieces.limiter.times })
      })) as unknown as HttpClient.HttpClient
    }
    if (pieces.retryTransient === true) {
      client = client.pipe(
        HttpClient.retryTransient({ times: 2, schedule: Schedule.exponential("500 millis") })
      ) as unknown as HttpClient.HttpClient
    }
    if (pieces.breaker === true) {
      const breaker = yield* Effect.provide(
        CircuitBreaker.make({ tripPolicy: CircuitBreaker.consecutive(5), openDuration: "30 seconds" }),
        CircuitBreaker.layerStoreMemory()
      )
      client = client.pipe(HttpClient.withCircuitBreaker({ breaker })) as unknown as HttpClient.HttpClient
    }
    return yield* providerOver(shared, client, { retry: false })
  }) as Effect.Effect<LanguageModel.LanguageModel["generateText"], never, Scope.Scope>

export const strategies: ReadonlyArray<Strategy> = [
  { name: "e4 stack-defaults", wrap: (shared) => providerOver(shared, shared.server, {}) },
  // The stack told what the built-in limiters are told: the server's capacity, as its slow start's first rate and
  // its ceiling (the token scenarios' providers say their limits in their headers, which it reads anyway).
  {
    name: "e4 stack, told the capacity",
    wrap: (shared) =>
      providerOver(
        shared,
        shared.server,
        shared.scenario.tokens !== undefined || shared.scenario.server.capacity === Infinity
          ? {}
          : { limiter: { initialRate: shared.scenario.server.capacity, maxRate: shared.scenario.server.capacity } }
      )
  },
  {
    name: "e4 retry-default",
    wrap: (shared) => providerOver(shared, shared.server, { budget: false, breaker: false, limiter: false })
  },
  {
    name: "Effect 4 withRateLimiter + retryTransient + withCircuitBreaker",
    wrap: builtins({ limiter: { algorithm: "token-bucket" }, retryTransient: true, breaker: true })
  },
  { name: "Effect 4 withRateLimiter token-bucket", wrap: builtins({ limiter: { algorithm: "token-bucket" } }) },
  {
    name: "Effect 4 withRateLimiter token-bucket, times 3",
    wrap: builtins({ limiter: { algorithm: "token-bucket", times: 3 } })
  },
  { name: "Effect 4 withRateLimiter fixed-window", wrap: builtins({ limiter: { algorithm: "fixed-window" } }) },
  {
    name: "Effect 4 withRateLimiter fixed-window, times 3",
    wrap: builtins({ limiter: { algorithm: "fixed-window", times: 3 } })
  },
  { name: "Effect 4 retryTransient", wrap: builtins({ retryTransient: true }) }
]

const all = strategies.map((s) => s.name)
const sharing = ["e4 stack-defaults", "Effect 4 withRateLimiter + retryTransient + withCircuitBreaker"]
// The latency scenarios (priorities, deadlines, tenants, a provider far above the load): the defaults and each of
// Effect 4's pieces once, with its defaults
const latency = [
  "e4 stack-defaults",
  "e4 retry-default",
  "Effect 4 withRateLimiter + retryTransient + withCircuitBreaker",
  "Effect 4 withRateLimiter token-bucket",
  "Effect 4 retryTransient"
]

/** What each scenario (by name and processes) runs. */
const runs: ReadonlyArray<readonly [string, number, ReadonlyArray<string>]> = [
  ["headline", 1, all],
  ["processes-10-shared", 10, sharing],
  ["retry-after-30s", 1, all],
  ["capacity-change", 1, all],
  ["random-503", 1, all],
  ["token-limits", 1, all],
  ["token-limits", 10, sharing],
  ["token-limits-openai", 1, all],
  ["token-limits-openai", 10, sharing],
  ["deadlines", 1, latency],
  ["tenants", 1, latency],
  ["tenants", 10, sharing],
  ["random-503-headers", 1, latency],
  ["interactive-100", 1, latency],
  ["mixed-priority", 1, latency],
  ["mixed-priority", 10, sharing],
  ["mixed-priority-headers", 1, latency],
  ["mixed-priority-headers", 10, sharing]
]

// The server ---------------------------------------------------------------------

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/**
 * The simulated server: the scenario's admission, answered as the provider's HTTP after one latency; it counts
 * the requests each client's calls sent (by the number in the prompt).
 */
const serve = (scenario: Scenario) => {
  const counts = { accepted: 0, refused: 0, failed: 0 }
  const sentBy = new Array<number>(scenario.n).fill(0)
  const format = scenario.tokens?.headers ?? "anthropic"
  const throttle = Throttle.tokenBucket(Throttle.capacityAt(scenario.server), scenario.server.burst)
  const limits = scenario.tokens === undefined ? undefined : ProviderLimits.providerLimits(scenario.tokens.limits)
  const usage = Scenarios.draws(scenario.n)
  const failureRate = scenario.tokens?.failureRate ?? scenario.server.failureRate ?? 0
  const latency = scenario.tokens?.latency ?? latencyMillis
  const respond = (request: HttpClientRequest.HttpClientRequest, reply: FaultServer.Reply) =>
    HttpServerResponse.toClientResponse(
      HttpServerResponse.uint8Array(encoder.encode(FaultServer.bodyOf(reply)), {
        status: reply._tag === "Respond" || reply._tag === "Stream" ? reply.status : 500,
        headers: reply._tag === "Respond" || reply._tag === "Stream" ? reply.headers : {}
      }),
      { request }
    )
  const error = (status: number, type: string, headers: Record<string, string>) =>
    format === "anthropic"
      ? FaultServer.anthropicError(status, type, type, headers)
      : FaultServer.openAiError(status, type, type, headers, type)
  const server = HttpClient.make((request) =>
    Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const body = request.body._tag === "Uint8Array" ? decoder.decode(request.body.body) : ""
      const client = Number(/client-(\d+)/.exec(body)?.[1] ?? 0)
      sentBy[client]!++
      let reply: FaultServer.Reply
      if (limits !== undefined) {
        const drawn = usage[client]!
        const wait = limits.admit(now, {
          requests: 1,
          inputTokens: drawn.inputTokens,
          outputTokens: 1024,
          tokens: drawn.inputTokens + 1024
        })
        const headers = limits.headers(now, format)
        const draw = wait === 0 && failureRate > 0 ? yield* Random.next : 1
        if (wait > 0) {
          counts.refused++
          reply = error(429, "rate_limit_error", { ...headers, "retry-after": String(Math.ceil(wait / 1000)) })
        } else if (draw < failureRate) {
          // admitted, then failed: what it reserved goes back, and the answer carries the headers
          counts.failed++
          limits.settle(now, { outputTokens: 1024, tokens: 1024 })
          reply = error(503, "api_error", headers)
        } else {
          counts.accepted++
          const unused = 1024 - drawn.outputTokens
          limits.settle(now, { outputTokens: unused, tokens: unused })
          const shape = { headers, outputTokens: drawn.outputTokens, inputTokens: drawn.inputTokens }
          reply = format === "anthropic"
            ? FaultServer.anthropicStream(["ok"], shape)
            : FaultServer.openAiStream(["ok"], shape)
        }
      } else {
        const untilToken = throttle(now)
        const draw = failureRate > 0 ? yield* Random.next : 1
        if (untilToken !== undefined) {
          counts.refused++
          const hint = scenario.server.retryAfter
          const seconds = hint === undefined || hint === "none"
            ? undefined
            : hint === "exact"
            ? untilToken / 1000
            : Number(hint.fixed.split(" ")[0]) * (hint.fixed.endsWith("millis") ? 0.001 : 1)
          // Both hints: Anthropic's `retry-after` (whole seconds), which Effect 4's limiter reads, and `retry-after-ms`.
          reply = error(
            429,
            "rate_limit_error",
            seconds === undefined
              ? {}
              : { "retry-after": String(Math.max(1, Math.ceil(seconds))), "retry-after-ms": String(seconds * 1000) }
          )
        } else if (draw < failureRate) {
          counts.failed++
          reply = error(503, "api_error", {})
        } else {
          counts.accepted++
          reply = FaultServer.anthropicStream(["ok"])
        }
      }
      yield* Effect.sleep(latency)
      return respond(request, reply)
    })
  )
  return { server, counts, sentBy }
}

/** One run in discrete virtual time. */
export const simulate = (scenario: Scenario, strategy: Strategy, seed = 1): Outcome =>
  DiscreteTime.run(
    Effect.gen(function*() {
      const { counts, sentBy, server } = serve(scenario)
      const shared: Shared = {
        server,
        store: FleetStore.makeMemory(),
        limiterStore: yield* Layer.build(RateLimiter.layerStoreMemory).pipe(
          Effect.map((context) => Layer.succeedContext(context))
        ),
        scenario
      }
      const generates = yield* Effect.forEach(Array.from({ length: scenario.processes }), () => strategy.wrap(shared))
      const driven = yield* Driver.drive(
        scenario,
        generates.length,
        // a client's call: its number in the prompt (the server's draws and counts go by it)
        (p, client) => generates[p]!({ prompt: `client-${client} ${"x".repeat(usageChars(scenario, client))}` }),
        // the limiter's DeadlineError, as an AiError on this line
        (error) =>
          AiError.isAiError(error) && error.reason._tag === "UnknownError" &&
          error.reason.description?.includes("not sent:") === true
      )
      return Driver.outcomeOf(
        scenario,
        strategy.name,
        driven,
        counts,
        sentBy,
        Scenarios.floorMillis(scenario, Throttle.capacityAt)
      )
    }).pipe(
      Effect.scoped,
      Random.withSeed(seed),
      Effect.provideService(References.TracerEnabled, false),
      Effect.provideService(References.MinimumLogLevel, "None")
    )
  )

// A token scenario's request is as long as its draw says (what the limiters estimate its input from).
const usageChars = (scenario: Scenario, client: number) =>
  scenario.tokens === undefined ? 0 : Scenarios.draws(scenario.n)[client]!.chars

/** Every scenario with its strategies: the rows. */
export const run = () => {
  const rows: Array<ReturnType<typeof Scenarios.row>> = []
  for (const [name, processes, names] of runs) {
    const scenario = Scenarios.scenarios.find((s) => s.name === name && s.processes === processes)!
    for (const strategyName of names) {
      const started = performance.now()
      const strategy = strategies.find((s) => s.name === strategyName)!
      const outcome = Scenarios.worstRise(scenario, (s) => simulate(s, strategy))
      rows.push(Scenarios.row(outcome))
      console.log(JSON.stringify(Scenarios.row(outcome)), `${((performance.now() - started) / 1000).toFixed(1)} s`)
    }
  }
  return rows
}
