/**
 * The fleet comparison over real HTTP, small enough to run in real time: 400
 * clients start at once against the loopback `FaultServer` answering as a
 * server with capacity 100 requests/s (token bucket, burst 100, 200 ms
 * latency, 429 with `Retry-After: 1` when over capacity). The recommended
 * stack runs over the Anthropic adapter; plain retries, cockatiel and p-retry
 * wrap the same `fetch`, each with its defaults. The discrete-time simulation
 * of the same set-up is printed next to each, to confirm it.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { ExponentialBackoff, handleWhen, retry as cockatielRetry } from "cockatiel"
import { Effect, Layer, Logger, LogLevel, Redacted, Stream } from "effect"
import type { CompletionModel } from "effect-retry-layer"
import { FleetStore } from "effect-retry-layer"
import { Anthropic } from "effect-retry-layer/anthropic"
import { retry } from "effect-retry-layer/promise"
import { ThrottledModel } from "effect-retry-layer/testing"
import { FaultServer } from "effect-retry-layer/testing/server"
import pRetry from "p-retry"
import * as Fleet from "./fleet.js"
import { fetchOnce, HttpError } from "./support/plainFetch.js"
import { report } from "./support/report.js"

const clients = 400
const capacity = 100
const latencyMillis = 200
const scenario: Fleet.Scenario = { name: "loopback", n: clients, processes: 1, server: Fleet.server() }

// The simulation's admission rule (`ThrottledModel.tokenBucket`), on the real clock.
const throttledServer = () => {
  const take = ThrottledModel.tokenBucket(capacity, 100)
  const counts = { requests: 0, refused: 0 }
  const server = FaultServer.make({
    handler: () => {
      counts.requests++
      if (take(performance.now()) === undefined) {
        return FaultServer.stream(FaultServer.anthropicEvents(["ok"]), { delayMillis: latencyMillis })
      }
      counts.refused++
      return FaultServer.json(429, { type: "error", error: { type: "rate_limit_error", message: "over capacity" } }, {
        headers: { "retry-after": "1" },
        delayMillis: latencyMillis
      })
    }
  })
  return Effect.map(server, (s) => ({ url: s.url, counts: () => ({ ...counts }) }))
}

interface Contender {
  readonly name: string
  /** The simulated strategy it is compared with. */
  readonly simulated: string
  /** Runs every client; gives each one's completion time in ms from the start, or undefined if it failed. */
  readonly run: (url: string) => Promise<ReadonlyArray<number | undefined>>
}

const timed = async (call: () => Promise<unknown>, start: number) => {
  try {
    await call()
    return performance.now() - start
  } catch {
    return undefined
  }
}

const everyClient = (call: () => Promise<unknown>) => {
  const start = performance.now()
  return Promise.all(Array.from({ length: clients }, () => timed(call, start)))
}

const contenders: ReadonlyArray<Contender> = [
  {
    name: "stack-defaults (ResilientModel over the Anthropic adapter)",
    simulated: "stack-defaults",
    run: (url) =>
      Effect.gen(function*() {
        const adapter = yield* Anthropic.make({ apiKey: Redacted.make("bench"), model: "m", baseUrl: url })
        const chatStream = yield* Fleet.stack()(adapter)
        const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "hi" }] }
        const call = Effect.flatMap(chatStream(request), Stream.runDrain).pipe(
          Effect.withTracerEnabled(false),
          Logger.withMinimumLogLevel(LogLevel.None)
        )
        return yield* Effect.promise(() => everyClient(() => Effect.runPromise(call)))
      }).pipe(
        Effect.scoped,
        Effect.provide(Layer.merge(NodeHttpClient.layerUndici, FleetStore.layerMemory)),
        Effect.runPromise
      )
  },
  {
    name: "retry-default (retry(fetch) from effect-retry-layer/promise)",
    simulated: "retry-default",
    run: (url) => everyClient(() => retry(fetchOnce(url)))
  },
  {
    name: "cockatiel defaults (ExponentialBackoff, no attempt limit)",
    simulated: "cockatiel defaults",
    run: (url) => {
      const policy = cockatielRetry(handleWhen((e) => e instanceof HttpError), { backoff: new ExponentialBackoff() })
      return everyClient(() => policy.execute(fetchOnce(url)))
    }
  },
  {
    name: "p-retry defaults (10 retries, 1 s doubling)",
    simulated: "p-retry defaults",
    run: (url) => everyClient(() => pRetry(fetchOnce(url)))
  }
]

export const run = async () => {
  const rows: Array<Record<string, unknown>> = []
  for (const contender of contenders) {
    const outcome = await Effect.runPromise(
      Effect.scoped(Effect.gen(function*() {
        const server = yield* throttledServer()
        const start = performance.now()
        const completions = yield* Effect.promise(() => contender.run(server.url))
        return { completions, makespanMillis: performance.now() - start, ...server.counts() }
      }))
    )
    const done = outcome.completions.filter((t): t is number => t !== undefined).sort((a, b) => a - b)
    rows.push({
      run: "real time",
      ...Fleet.row({
        scenario: scenario.name,
        strategy: contender.name,
        n: clients,
        processes: 1,
        calls: outcome.requests,
        refused: outcome.refused,
        succeeded: done.length,
        completions: done,
        makespanMillis: outcome.makespanMillis,
        floorMillis: Fleet.floorMillis(scenario)
      })
    })
    rows.push({ run: "simulated", ...Fleet.row(Fleet.simulate(scenario, Fleet.byName(contender.simulated))) })
  }
  report(
    "loopback",
    `Real HTTP on loopback: ${clients} clients, capacity ${capacity}/s, ${latencyMillis} ms latency, Retry-After: 1`,
    rows
  )
}
