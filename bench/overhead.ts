/**
 * Happy-path overhead: what a retry wrapper costs when the first call succeeds.
 *
 * - Effect: `chatStream` acquisition through `RetryingModel` against the bare
 *   inner model, whose acquisition is a bare `Effect.succeed` (pure wrapper
 *   cost), and against the Anthropic adapter over loopback HTTP (a real call).
 * - Promise: `retry` from `effect-retry-layer/promise` against the bare async
 *   function, next to cockatiel's `retry(...).execute` and `p-retry`.
 *
 * Each sample runs a batch of calls, so the figure is the per-call cost, not
 * the cost of starting a runtime. Run on the compiled package (`dist/`).
 */
import { NodeHttpClient } from "@effect/platform-node"
import { ExponentialBackoff, handleAll, retry as cockatielRetry } from "cockatiel"
import { Effect, Layer, ManagedRuntime, Redacted, Runtime, Stream } from "effect"
import {
  AdaptiveRateLimiter,
  CompletionModel,
  FleetStore,
  ResilientModel,
  RetryingModel,
  RetrySchedule
} from "effect-retry-layer"
import { Anthropic } from "effect-retry-layer/anthropic"
import { retry } from "effect-retry-layer/promise"
import { FaultServer } from "effect-retry-layer/testing/server"
import pRetry from "p-retry"
import { measure, type Row } from "./support/perCall.js"
import { report } from "./support/report.js"
import { steppedClock } from "./support/steppedClock.js"

const batch = 1_000
const request: CompletionModel.ChatRequest = { messages: [{ role: "user", content: "hi" }] }
const stream = Stream.make(CompletionModel.StreamChunk.TextDelta({ text: "x" }))
const bare: CompletionModel.Service = { name: "bare", model: "m", chatStream: () => Effect.succeed(stream) }

const calls = (chatStream: CompletionModel.Service["chatStream"]) =>
  Effect.gen(function*() {
    for (let i = 0; i < batch; i++) yield* chatStream(request)
  })

const promises = async (call: () => Promise<unknown>) => {
  for (let i = 0; i < batch; i++) await call()
}

const effects = () => {
  const retrying = RetryingModel.make(bare)
  const schedule = RetrySchedule.make()
  const tasks = {
    "bare inner model": calls(bare.chatStream),
    "RetryingModel, tracing on (Effect's default)": calls(retrying.chatStream),
    "RetryingModel, Effect.withTracerEnabled(false)": calls(retrying.chatStream).pipe(Effect.withTracerEnabled(false)),
    "Effect.retry(inner, RetrySchedule.make())": calls((r) => Effect.retry(bare.chatStream(r), schedule))
  }
  return measure(
    "Effect, no I/O",
    "bare inner model",
    Object.fromEntries(Object.entries(tasks).map(([name, effect]) => [name, () => Effect.runSync(effect)])),
    batch
  )
}

// A real call: the Anthropic adapter streams a short answer from the loopback server, and the stream is drained.
const httpBatch = 100
const http = () =>
  Effect.gen(function*() {
    const server = yield* FaultServer.make({ handler: () => FaultServer.anthropicStream(["Hello"]) })
    const adapter = yield* Anthropic.make({ apiKey: Redacted.make("bench"), model: "m", baseUrl: server.url })
    const retrying = RetryingModel.make(adapter)
    const runtime = yield* Effect.runtime<never>()
    const drained = (model: CompletionModel.Service) => {
      const batchOf = Effect.gen(function*() {
        for (let i = 0; i < httpBatch; i++) yield* Stream.runDrain(yield* model.chatStream(request))
      })
      return () => Runtime.runPromise(runtime, batchOf)
    }
    return yield* Effect.promise(() =>
      measure(
        "Effect, loopback HTTP",
        "bare Anthropic adapter",
        {
          "bare Anthropic adapter": drained(adapter),
          "RetryingModel over the adapter": drained(retrying)
        },
        httpBatch,
        4_000
      )
    )
  }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici), Effect.runPromise)

const promiseBridge = () => {
  const fn = async () => 1
  const policy = RetrySchedule.RetryPolicy.from({ maxAttempts: 5 })
  const cockatiel = cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff() })
  return measure("Promise", "bare async function", {
    "bare async function": () => promises(fn),
    "retry(fn) (this library's bridge)": () => promises(() => retry(fn)),
    "retry(fn, policy), the options validated once": () => promises(() => retry(fn, policy)),
    "retry(fn, { maxAttempts: 5 }), validated per call": () => promises(() => retry(fn, { maxAttempts: 5 })),
    "cockatiel retry(...).execute(fn)": () => promises(() => cockatiel.execute(fn)),
    "p-retry pRetry(fn)": () => promises(() => pRetry(fn))
  }, batch)
}

/**
 * The limiter's own cost per call at a given request rate: a clock that moves 1/rate s per call (so the
 * limiter sees that rate of sends and answers), with a rate and burst that never make a call wait, on the
 * in-memory store. Work that grows with the rate (copying the last second's answers, as the first version
 * did) shows here as ns/call rising with the rate.
 */
const limiterCost = async () => {
  const rows: Array<Row> = []
  const perRate = 20_000
  for (const rate of [10, 1_000, 10_000, 50_000]) {
    const { advance, clock } = steppedClock()
    const elapsed = await Effect.gen(function*() {
      const limiter = yield* AdaptiveRateLimiter.make({ initialRate: Math.min(1e6, 4 * rate), burst: 1_000 })
      const call = Effect.zipRight(advance(1000 / rate), limiter.apply(Effect.void))
      for (let i = 0; i < 2_000; i++) yield* call // warm-up
      const started = performance.now()
      for (let i = 0; i < perRate; i++) yield* call
      return performance.now() - started
    }).pipe(Effect.scoped, Effect.provide(FleetStore.layerMemory), Effect.withClock(clock), Effect.runPromise)
    rows.push({
      group: "AdaptiveRateLimiter per call",
      variant: `${rate.toLocaleString("en")} requests/s`,
      baseline: "10 requests/s",
      nsPerCall: (elapsed * 1e6) / perRate
    })
  }
  return rows
}

/**
 * The recommended stack (`ResilientModel.layer()`, defaults, on the in-memory store) over the bare model, each
 * call's stream drained (so the limiter settles its turn): its CPU per call on the happy path, beside
 * `RetryingModel` alone. The clock moves 100 ms a call (10 calls/s), so no call waits on the limiter's pace.
 */
const stack = async () => {
  const { advance, clock } = steppedClock()
  const drained = (model: CompletionModel.Service) =>
    Effect.gen(function*() {
      for (let i = 0; i < batch; i++) {
        yield* advance(100)
        yield* Stream.runDrain(yield* model.chatStream(request))
      }
    })
  const runtime = ManagedRuntime.make(
    ResilientModel.layer().pipe(
      Layer.provide(Layer.succeed(CompletionModel.CompletionModel, bare)),
      Layer.provide(FleetStore.layerMemory)
    )
  )
  const resilient = await runtime.runPromise(CompletionModel.CompletionModel)
  const retrying = RetryingModel.make(bare)
  const run = (effect: Effect.Effect<void, unknown>) => () => runtime.runPromise(Effect.withClock(effect, clock))
  const rows = await measure("Effect, no I/O, the stream drained", "RetryingModel, tracing on", {
    "RetryingModel, tracing on": run(drained(retrying)),
    "ResilientModel.layer() defaults, tracing on": run(drained(resilient)),
    "RetryingModel, tracing off": run(Effect.withTracerEnabled(drained(retrying), false)),
    "ResilientModel.layer() defaults, tracing off": run(Effect.withTracerEnabled(drained(resilient), false))
  }, batch)
  await runtime.dispose()
  return rows
}

export const run = async () => {
  const rows = [
    ...await effects(),
    ...await stack(),
    ...await http(),
    ...await promiseBridge(),
    ...await limiterCost()
  ]
  const baselines = new Map(rows.map((r) => [`${r.group}/${r.variant}`, r.nsPerCall]))
  report(
    "overhead",
    `Happy-path overhead per call (batches of ${batch}; HTTP in batches of ${httpBatch})`,
    rows.map((r) => ({
      group: r.group,
      variant: r.variant,
      "ns/call": Math.round(r.nsPerCall),
      "calls/s": Math.round(1e9 / r.nsPerCall),
      "x baseline": Number((r.nsPerCall / baselines.get(`${r.group}/${r.baseline}`)!).toFixed(3))
    }))
  )
}
