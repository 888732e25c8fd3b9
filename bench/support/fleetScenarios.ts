/**
 * The fleet bench's scenarios and what a run reports, for both Effect lines' simulations (`bench/fleet.ts`,
 * `effect4/bench/fleet.ts`): the same servers, floors, draws and rows. Plain TypeScript, no Effect.
 */
import type { Limits } from "../../src/core/testing/providerLimits.js"

/** The simulated server (what `ThrottledModel.Options` takes): capacity, burst, latency, hints, failures. */
export interface ServerSpec {
  readonly capacity: number
  readonly changes?: ReadonlyArray<{ readonly at: number; readonly capacity: number }>
  readonly failureRate?: number
  readonly burst?: number
  /** Milliseconds from a request to its answer. */
  readonly latency?: number
  readonly retryAfter?: "none" | "exact" | {
    readonly fixed: `${number} second` | `${number} seconds` | `${number} millis`
  }
}

export const latencyMillis = 200
export const burst = 100

export interface Scenario {
  readonly name: string
  readonly n: number
  readonly processes: number
  readonly server: ServerSpec
  /** Where capacity rises, to measure how soon the rise is used. */
  readonly rise?: { readonly atMillis: number; readonly capacity: number }
  /** A provider with per-minute limits on requests and tokens instead (`server` is then unused). */
  readonly tokens?: TokenLimits
  /**
   * A store this far away (a round trip, half each way), behind the Redis store's timeout and fall-back
   * (`FleetStore.resilient`, its defaults: 50 ms, 2 s); by default the store answers at once.
   */
  readonly storeMillis?: number
  /**
   * mixed-priority: the N clients are a batch (`Priority` "batch"), and one interactive call starts this often
   * while the batch runs (in each process in turn); the row reports the interactive calls' latencies.
   */
  readonly interactiveEveryMillis?: number
  /** deadlines: every call has this long (`Deadline.withDeadline`, a timeout for the peers). */
  readonly deadlineMillis?: number
  /**
   * tenants: instead of N clients, each tenant keeps `callers` calls going (spread over the processes) until its
   * `until` (the run ends at the last); the row reports each tenant's share of what was delivered while all were
   * busy (from `busyFrom` to the first `until`), against its weight's share, and how soon after that the others
   * used the share it left.
   */
  readonly tenants?: {
    readonly weights: { readonly [tenant: string]: number }
    readonly callers: number
    readonly until: { readonly [tenant: string]: number }
    readonly busyFrom: number
  }
}

/** token-limits: the provider's limits and headers; the requests' sizes and outputs are drawn per client. */
export interface TokenLimits {
  readonly limits: Limits
  readonly headers: "anthropic" | "openai"
  /** Share of admitted requests answered 503 (default none). */
  readonly failureRate?: number
  /** Milliseconds from a request to its answer (default `latencyMillis`). */
  readonly latency?: number
}

export const server = (options: Partial<ServerSpec> = {}): ServerSpec => ({
  capacity: 100,
  burst,
  latency: latencyMillis,
  retryAfter: { fixed: "1 second" },
  ...options
})

// Anthropic-like limits (4,000 requests, 2M input and 400k output tokens a minute; output is the tightest) and
// OpenAI-like ones (5,000 requests, 1M tokens a minute); each request 500-2,000 input tokens (2,000-8,000
// characters), maxTokens 1,024, 50-1,000 output tokens.
const anthropicLimits: TokenLimits = {
  limits: { requests: 4_000, inputTokens: 2_000_000, outputTokens: 400_000 },
  headers: "anthropic"
}
const openAiLimits: TokenLimits = { limits: { requests: 5_000, tokens: 1_000_000 }, headers: "openai" }
// Limits far above any load here (100,000 requests and 100M tokens a minute), told in Anthropic's headers: a
// provider that says it could take everything at once.
const farAbove: TokenLimits = {
  limits: { requests: 100_000, inputTokens: 100_000_000, outputTokens: 100_000_000 },
  headers: "anthropic"
}
const tokenScenario = (name: string, tokens: TokenLimits, processes: number): Scenario => ({
  name,
  n: 10_000,
  processes,
  server: server(),
  tokens
})

export const scenarios: ReadonlyArray<Scenario> = [
  { name: "headline", n: 10_000, processes: 1, server: server() },
  { name: "processes-1-shared", n: 10_000, processes: 1, server: server() },
  { name: "processes-3-shared", n: 10_000, processes: 3, server: server() },
  { name: "processes-10-shared", n: 10_000, processes: 10, server: server() },
  { name: "retry-after-30s", n: 10_000, processes: 1, server: server({ retryAfter: { fixed: "30 seconds" } }) },
  // A short hint, waited as a floor under the backoff or exactly (`retryAfter: "exact"`).
  { name: "retry-after-300ms", n: 10_000, processes: 1, server: server({ retryAfter: { fixed: "300 millis" } }) },
  capacityChange(0),
  // Three tenants of weights 1, 1 and 2 with more work than the key takes; b goes idle at 60 s.
  ...[1, 10].map((processes): Scenario => ({
    name: "tenants",
    n: 600,
    processes,
    server: server(),
    tenants: {
      weights: { a: 1, b: 1, c: 2 },
      callers: 200,
      until: { a: 90_000, b: 60_000, c: 90_000 },
      busyFrom: 10_000
    }
  })),
  // The headline batch where every call has 10 s.
  { name: "deadlines", n: 10_000, processes: 1, server: server(), deadlineMillis: 10_000 },
  { name: "random-503", n: 10_000, processes: 1, server: server({ capacity: Infinity, failureRate: 0.3 }) },
  // The same with the provider's headers: its limits far above the load, 30% of requests failing at random.
  tokenScenario("random-503-headers", { ...farAbove, failureRate: 0.3 }, 1),
  // A small interactive batch: 100 calls at once, 500 ms each, nothing failing.
  { ...tokenScenario("interactive-100", { ...farAbove, latency: 500 }, 1), n: 100 },
  // A batch of 10,000 and one interactive call a second on the same key: the headline's server, and one with
  // Anthropic's headers telling a limit of 6,000 requests a minute (100/s, a minute's worth to start with).
  ...[1, 10].flatMap((processes) => [
    { name: "mixed-priority", n: 10_000, processes, server: server(), interactiveEveryMillis: 1_000 },
    {
      ...tokenScenario(
        "mixed-priority-headers",
        { ...farAbove, limits: { ...farAbove.limits, requests: 6_000 } },
        processes
      ),
      interactiveEveryMillis: 1_000
    }
  ]),
  tokenScenario("token-limits", anthropicLimits, 1),
  tokenScenario("token-limits", anthropicLimits, 10),
  tokenScenario("token-limits-openai", openAiLimits, 1),
  tokenScenario("token-limits-openai", openAiLimits, 10),
  // The shared scenarios again with a store a round trip away, as Redis is.
  ...[1, 20].flatMap((storeMillis) => [
    { name: `headline-store-${storeMillis}ms`, n: 10_000, processes: 1, server: server(), storeMillis },
    { name: `processes-10-store-${storeMillis}ms`, n: 10_000, processes: 10, server: server(), storeMillis },
    { ...tokenScenario(`token-limits-store-${storeMillis}ms`, anthropicLimits, 10), storeMillis }
  ])
]

/** 100/s, 20/s from 20 s, 200/s from 40 s; `offset` shifts both changes, to meet the limiter in another phase. */
export function capacityChange(offset: number): Scenario {
  return {
    name: "capacity-change",
    n: 10_000,
    processes: 1,
    server: server({
      changes: [{ at: 20_000 + offset, capacity: 20 }, { at: 40_000 + offset, capacity: 200 }]
    }),
    rise: { atMillis: 40_000 + offset, capacity: 200 }
  }
}

export interface Outcome {
  readonly scenario: string
  readonly strategy: string
  readonly n: number
  readonly processes: number
  readonly calls: number
  readonly refused: number
  readonly succeeded: number
  /** Completion time of each client that succeeded, in ms, ascending. */
  readonly completions: ReadonlyArray<number>
  readonly makespanMillis: number
  readonly floorMillis: number
  /**
   * deadlines: requests sent for calls that then missed their deadline; calls refused by the limiter before they
   * sent anything, and the p99 of the time they were refused after asking; calls that sent a request and missed.
   */
  readonly deadlines?: {
    readonly sentThenMissed: number
    readonly refused: number
    readonly refusalP99Millis: number
    readonly admittedMissed: number
  }
  /**
   * tenants: the largest |delivered share - weight share| / weight share while all were busy, each tenant's
   * delivered share then, and the seconds from the first tenant's going idle (its last call sent, after its
   * callers stopped) until the others were delivered 90% of the capacity over a whole second.
   */
  readonly tenants?: {
    readonly maxShareError: number
    readonly shares: { readonly [tenant: string]: number }
    readonly idleReuseSeconds: number
    readonly answered: number
    readonly requestsPerAnswer: number
  }
  /** mixed-priority: each interactive call's latency, in ms, ascending. */
  readonly interactive?: ReadonlyArray<number>
  /**
   * For the charts (ms): mixed-priority, when each interactive call asked and its latency; tenants, each
   * tenant's answers; deadlines, when each call refused before it sent anything was told.
   */
  readonly timeline?: {
    readonly interactive?: ReadonlyArray<readonly [number, number]>
    readonly delivered?: { readonly [tenant: string]: ReadonlyArray<number> }
    readonly refused?: ReadonlyArray<number>
  }
  /**
   * capacity-change: seconds from the rise to 200/s until the server admits 90% of it over a whole second,
   * the worst of four runs with the changes 0, 250, 500 and 750 ms later.
   */
  readonly secondsTo90?: number
}

/**
 * The physical floor: the time the server's capacity (after the burst) takes to admit N, plus one latency; with
 * token limits, the time the tightest dimension takes to admit what the N requests really use, beyond the
 * minute's worth its bucket starts with.
 */
export const floorMillis = (
  scenario: Scenario,
  capacityAt: (server: ServerSpec) => (sinceStart: number) => number
): number => {
  if (scenario.tokens !== undefined) {
    const { limits } = scenario.tokens
    const totals = draws(scenario.n).reduce(
      (t, d) => ({
        requests: t.requests + 1,
        inputTokens: t.inputTokens + d.inputTokens,
        outputTokens: t.outputTokens + d.outputTokens,
        tokens: t.tokens + d.inputTokens + d.outputTokens
      }),
      { requests: 0, inputTokens: 0, outputTokens: 0, tokens: 0 }
    )
    const slowest = Math.max(
      ...(Object.keys(limits) as Array<keyof Limits>).map((d) =>
        Math.max(0, totals[d] - limits[d]!) / (limits[d]! / 60_000)
      )
    )
    return Math.ceil(slowest) + (scenario.tokens.latency ?? latencyMillis)
  }
  const capacity = capacityAt(scenario.server)
  if (capacity(0) === Infinity) return latencyMillis
  let admitted = scenario.server.burst ?? capacity(0)
  let t = 0
  while (admitted < scenario.n) {
    admitted += capacity(t) / 1000
    t++
  }
  return t + latencyMillis
}

/** Each client's request in token-limits: drawn once, the same for every strategy (a seeded LCG, not `Random`). */
export const draws = (n: number) => {
  let seed = 12345
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  return Array.from({ length: n }, () => {
    const chars = 2_000 + Math.floor(next() * 6_001)
    return { chars, inputTokens: Math.ceil(chars / 4), outputTokens: 50 + Math.floor(next() * 951) }
  })
}

// Completions are answers: one latency after the server admitted them, so admissions are shifted back.
export const secondsTo90 = (completions: ReadonlyArray<number>, riseMillis: number, capacity: number) => {
  const admitted = completions.map((t) => t - latencyMillis)
  let from = 0
  for (let to = 0; to < admitted.length; to++) {
    while (admitted[from]! <= admitted[to]! - 1000) from++
    if (admitted[to]! >= riseMillis + 1000 && to - from + 1 >= 0.9 * capacity) {
      return round((admitted[to]! - riseMillis) / 1000, 2)
    }
  }
  return Infinity
}

export const quantile = (sorted: ReadonlyArray<number>, q: number) =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!

export const round = (x: number, digits: number) => Number(x.toFixed(digits))

/** A row of `bench/results/fleet.json`. */
export const row = (o: Outcome) => ({
  scenario: o.scenario,
  strategy: o.strategy,
  n: o.n,
  processes: o.processes,
  makespanOverFloor: round(o.makespanMillis / o.floorMillis, 2),
  callsPerClient: round(o.calls / o.n, 2),
  succeeded: round(o.succeeded / o.n, 4),
  fraction429: round(o.refused / o.calls, 4),
  p50Seconds: round(quantile(o.completions, 0.5) / 1000, 2),
  p99Seconds: round(quantile(o.completions, 0.99) / 1000, 2),
  ...(o.secondsTo90 === undefined ? {} : { secondsTo90: o.secondsTo90 }),
  ...(o.deadlines === undefined ? {} : o.deadlines),
  ...(o.tenants === undefined ? {} : o.tenants),
  ...(o.interactive === undefined ? {} : {
    interactiveCalls: o.interactive.length,
    interactiveP50Seconds: round(quantile(o.interactive, 0.5) / 1000, 2),
    interactiveP99Seconds: round(quantile(o.interactive, 0.99) / 1000, 2)
  })
})

/** A run of `scenario`, with `secondsTo90` the worst over the rise's phases (capacity-change). */
export const worstRise = (scenario: Scenario, simulate: (scenario: Scenario) => Outcome): Outcome => {
  const outcome = simulate(scenario)
  if (scenario.rise === undefined) return outcome
  const others = [250, 500, 750].map((offset) => simulate(capacityChange(offset)).secondsTo90!)
  return { ...outcome, secondsTo90: Math.max(outcome.secondsTo90!, ...others) }
}

/**
 * A run's outcome: what the server counted, each client's completion time (`undefined` for one that failed), the
 * time the run ended and its floor.
 */
export const outcome = (
  scenario: Scenario,
  strategy: string,
  counts: { readonly accepted: number; readonly refused: number; readonly failed: number },
  results: ReadonlyArray<ReadonlyArray<number | undefined>>,
  end: number,
  floor: number,
  extra: {
    readonly interactive?: ReadonlyArray<number> | undefined
    readonly deadlines?: Outcome["deadlines"] | undefined
    readonly tenants?: Outcome["tenants"] | undefined
    readonly timeline?: Outcome["timeline"] | undefined
  } = {}
): Outcome => {
  const completions = results.flat().filter((t): t is number => t !== undefined).sort((a, b) => a - b)
  return {
    scenario: scenario.name,
    strategy,
    n: scenario.n,
    processes: scenario.processes,
    calls: counts.accepted + counts.refused + counts.failed,
    refused: counts.refused,
    succeeded: completions.length,
    completions,
    makespanMillis: end,
    floorMillis: floor,
    ...(scenario.rise === undefined ? {} : {
      secondsTo90: secondsTo90(completions, scenario.rise.atMillis, scenario.rise.capacity)
    }),
    ...(extra.interactive === undefined ? {} : { interactive: [...extra.interactive].sort((a, b) => a - b) }),
    ...(extra.deadlines === undefined ? {} : { deadlines: extra.deadlines }),
    ...(extra.tenants === undefined ? {} : { tenants: extra.tenants }),
    ...(extra.timeline === undefined ? {} : { timeline: extra.timeline })
  }
}

/** tenants: the figures of a run from each tenant's delivery times (ms). */
export const tenantFigures = (
  spec: NonNullable<Scenario["tenants"]>,
  delivered: { readonly [tenant: string]: ReadonlyArray<number> },
  capacity: number,
  requests: number
): NonNullable<Outcome["tenants"]> => {
  const idleAt = Math.min(...Object.values(spec.until))
  const busy = Object.fromEntries(
    Object.entries(delivered).map(([t, times]) => [t, times.filter((at) => at >= spec.busyFrom && at < idleAt).length])
  )
  const total = Object.values(busy).reduce((a, b) => a + b, 0)
  const weights = Object.values(spec.weights).reduce((a, b) => a + b, 0)
  const shares = Object.fromEntries(Object.entries(busy).map(([t, n]) => [t, round(n / total, 4)]))
  const maxShareError = Math.max(
    ...Object.entries(spec.weights).map(([t, w]) => Math.abs((busy[t] ?? 0) / total - w / weights) / (w / weights))
  )
  // the others: every tenant still going after the first one stopped
  const others = Object.entries(delivered).filter(([t]) => spec.until[t]! > idleAt).flatMap(([, times]) =>
    times.filter((at) => at >= idleAt)
  ).sort((a, b) => a - b)
  // The tenant that stopped is idle once its last call was sent (answered a latency later): its callers stop
  // asking at `until`, and the calls they have in line then are still served, at its share.
  const idle = Math.max(
    idleAt,
    ...Object.entries(delivered).filter(([t]) => spec.until[t] === idleAt).flatMap(([, times]) =>
      times.map((at) => at - latencyMillis)
    )
  )
  const reuse = secondsTo90(others.map((at) => at + latencyMillis), idle, capacity)
  const answered = Object.values(delivered).reduce((sum, times) => sum + times.length, 0)
  return {
    maxShareError: round(maxShareError, 4),
    shares,
    idleReuseSeconds: reuse,
    answered,
    requestsPerAnswer: round(requests / answered, 2)
  }
}

/**
 * deadlines: what the calls that missed their deadline sent, and how soon the refused ones were told; and when
 * (ascending).
 */
export const deadlineFigures = (
  completions: ReadonlyArray<number | undefined>,
  sentBy: ReadonlyArray<number>,
  refusedAt: ReadonlyMap<number, number>,
  deadline: number
) => {
  // every call starts at 0: a call missed its deadline unless it succeeded by then
  const missed = completions.flatMap((at, client) => at === undefined || at > deadline ? [client] : [])
  const refusedUnsent = [...refusedAt].filter(([client]) => sentBy[client] === 0).map(([, at]) => at)
    .sort((a, b) => a - b)
  return {
    figures: {
      sentThenMissed: missed.reduce((sum, client) => sum + sentBy[client]!, 0),
      refused: refusedUnsent.length,
      refusalP99Millis: round(quantile(refusedUnsent, 0.99), 1),
      admittedMissed: missed.filter((client) => sentBy[client]! > 0).length
    },
    refusedAt: refusedUnsent
  }
}
