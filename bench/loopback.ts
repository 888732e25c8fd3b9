/**
 * The fleet comparison over real HTTP, small enough to run in real time: 400
 * clients start at once against the loopback `FaultServer` answering as a
 * server with capacity 100 requests/s (token bucket, burst 100, 200 ms
 * latency, 429 with `Retry-After: 1` when over capacity). This library,
 * cockatiel and p-retry wrap the same `fetch`; the Effect layer with the
 * adaptive limiter uses the Anthropic adapter. The discrete-time simulation of
 * the same set-up is printed next to each, to confirm it.
 */
import { RateLimiter } from "@effect/experimental"
import { NodeHttpClient } from "@effect/platform-node"
import { decorrelatedJitterGenerator, ExponentialBackoff, handleWhen, retry as cockatielRetry } from "cockatiel"
import { Duration, Effect, Layer, Logger, LogLevel, Redacted, Stream } from "effect"
import type { CompletionModel } from "effect-retry-layer"
import { AdaptiveRateLimiter, Retryable, RetryingModel } from "effect-retry-layer"
import { Anthropic } from "effect-retry-layer/anthropic"
import { retry } from "effect-retry-layer/promise"
import { FaultServer, ThrottledModel } from "effect-retry-layer/testing"
import pRetry from "p-retry"
import * as Fleet from "./fleet.js"
import { report } from "./support/report.js"

const clients = 400
const capacity = 100
const latencyMillis = 200
const maxAttempts = Fleet.maxAttempts

/** A non-2xx answer; it classifies itself, with the server's Retry-After, for this library's bridge. */
class HttpError extends Error {
  constructor(readonly status: number, readonly retryAfterMillis: number | undefined) {
    super(`HTTP ${status}`)
  }
  [Retryable.symbol]() {
    return this.status === 429 || this.status >= 500
      ? Retryable.transient(this.retryAfterMillis === undefined ? undefined : Duration.millis(this.retryAfterMillis))
      : Retryable.permanent
  }
}

// The simulation's admission rule (`ThrottledModel.tokenBucket`), on the real clock.
const throttledServer = () => {
  const take = ThrottledModel.tokenBucket(capacity)
  let requests = 0
  const server = FaultServer.make({
    handler: () => {
      requests++
      if (take(performance.now()) === undefined) {
        return FaultServer.stream(FaultServer.anthropicEvents(["ok"]), { delayMillis: latencyMillis })
      }
      return FaultServer.json(429, { type: "error", error: { type: "rate_limit_error", message: "over capacity" } }, {
        headers: { "retry-after": "1" },
        delayMillis: latencyMillis
      })
    }
  })
  return Effect.map(server, (s) => ({ url: s.url, requests: () => requests }))
}

const body = JSON.stringify({ model: "m", max_tokens: 16, stream: true, messages: [{ role: "user", content: "hi" }] })

const fetchOnce = (url: string) => async () => {
  const response = await fetch(`${url}/v1/messages`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-api-key": "bench", "anthropic-version": "2023-06-01" },
    body
  })
  const text = await response.text()
  if (!response.ok) {
    const retryAfter = Number(response.headers.get("retry-after"))
    throw new HttpError(response.status, Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined)
  }
  return text
}

interface Contender {
  readonly name: string
  readonly simulated?: Fleet.Strategy
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

const strategy = (name: string): Fleet.Strategy => {
  const found = Fleet.strategies.find((s) => s.name === name)
  if (found === undefined) throw new Error(`no simulated strategy ${name}`)
  return found
}

const contenders: ReadonlyArray<Contender> = [
  {
    name: "this library: retry(fetch), default policy",
    simulated: strategy("this library, default policy"),
    run: (url) => {
      const options = { maxAttempts }
      return everyClient(() => retry(fetchOnce(url), options))
    }
  },
  {
    name: "this library: Anthropic adapter + adaptive limiter, slow start 10/s",
    simulated: strategy("this library + adaptive limiter, slow start 10/s"),
    run: (url) =>
      Effect.gen(function*() {
        const adapter = yield* Anthropic.make({ apiKey: Redacted.make("bench"), model: "m", baseUrl: url })
        const { model } = yield* AdaptiveRateLimiter.make(adapter, { initialRate: 10 })
        const retrying = RetryingModel.make(model, { maxAttempts })
        const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "hi" }] }
        const call = Effect.flatMap(retrying.chatStream(request), Stream.runDrain).pipe(
          Effect.withTracerEnabled(false),
          Logger.withMinimumLogLevel(LogLevel.None)
        )
        return yield* Effect.promise(() => everyClient(() => Effect.runPromise(call)))
      }).pipe(
        Effect.scoped,
        Effect.provide(Layer.merge(NodeHttpClient.layerUndici, RateLimiter.layerStoreMemory)),
        Effect.runPromise
      )
  },
  {
    name: "cockatiel: decorrelated jitter (its default exponential backoff)",
    simulated: strategy("cockatiel decorrelated jitter"),
    run: (url) => {
      const policy = cockatielRetry(handleWhen((e) => e instanceof HttpError && e.status === 429), {
        maxAttempts: maxAttempts - 1,
        backoff: new ExponentialBackoff({ generator: decorrelatedJitterGenerator })
      })
      return everyClient(() => policy.execute(fetchOnce(url)))
    }
  },
  {
    name: "p-retry: defaults (1 s doubling, no randomize)",
    run: (url) => everyClient(() => pRetry(fetchOnce(url), { retries: maxAttempts - 1 }))
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
        return { completions, makespanMillis: performance.now() - start, requests: server.requests() }
      }))
    )
    const done = outcome.completions.filter((t): t is number => t !== undefined).sort((a, b) => a - b)
    rows.push({
      run: "real time",
      strategy: contender.name,
      ...Fleet.figures({
        n: clients,
        capacity,
        calls: outcome.requests,
        succeeded: done.length,
        completions: done,
        makespanMillis: outcome.makespanMillis
      })
    })
    if (contender.simulated !== undefined) {
      const simulated = Fleet.simulate(clients, capacity, "Retry-After: 1", contender.simulated)
      rows.push({ run: "simulated", strategy: contender.simulated.name, ...Fleet.figures(simulated) })
    }
  }
  report(
    "loopback",
    `Real HTTP on loopback: ${clients} clients, capacity ${capacity}/s, ${latencyMillis} ms latency, Retry-After: 1`,
    rows
  )
}
